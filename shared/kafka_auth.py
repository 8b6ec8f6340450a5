"""How every Kafka client of the platform authenticates: SASL/SCRAM-SHA-512, one principal per service and bank.

The broker accepts no anonymous client (deploy/kafka_security/ declares the principals and their ACLs).
Every client (FastStream's broker, aiokafka's producers, consumers and admin clients, Kafka's Java tools)
takes its options from here, so there is one place that says how to log in:

    AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **login.aiokafka())
    KafkaBroker(bootstrap, security=login.faststream())

Locally the listener is SASL_PLAINTEXT (loopback only); in production (Strimzi) the same mechanism runs over TLS:
`tls=True` turns SASL_PLAINTEXT into SASL_SSL with the system's trust store.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faststream.security import SASLScram512

MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaLogin:
    """A principal's SCRAM credentials (the password never printed)."""

    username: str
    password: str = field(repr=False)
    tls: bool = False

    @property
    def security_protocol(self) -> str:
        """`SASL_PLAINTEXT` locally, `SASL_SSL` behind TLS."""
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient and AIOKafkaClient."""
        options: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        if self.tls:
            options["ssl_context"] = ssl.create_default_context()
        return options

    def faststream(self) -> SASLScram512:
        """FastStream's `security=` object for a KafkaBroker."""
        from faststream.security import SASLScram512  # not at import: the launcher's CLI needs no FastStream

        return SASLScram512(
            username=self.username, password=self.password, use_ssl=self.tls,
            ssl_context=ssl.create_default_context() if self.tls else None,
        )

    def java_properties(self, bootstrap: str | None = None) -> str:
        """A client properties file for Kafka's Java clients and tools (`--command-config`, `--consumer.config`)."""
        # JAAS quotes: a backslash or a double quote in the password must be escaped.
        quoted = self.password.replace("\\", "\\\\").replace('"', '\\"')
        lines = [
            f"security.protocol={self.security_protocol}",
            f"sasl.mechanism={MECHANISM}",
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{self.username}" password="{quoted}";',
        ]
        if bootstrap:
            lines.insert(0, f"bootstrap.servers={bootstrap}")
        return "\n".join(lines) + "\n"


def aiokafka_options(login: KafkaLogin | None) -> dict[str, Any]:
    """aiokafka's keyword arguments for `login`; none for a broker without authentication (FastStream's in-memory tests)."""
    return login.aiokafka() if login is not None else {}
