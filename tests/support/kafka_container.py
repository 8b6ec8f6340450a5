"""The official `apache/kafka` image as a single KRaft node in a testcontainers container.

testcontainers-python's own `KafkaContainer` drives only Confluent's `cp-kafka` images (its start
script is Confluent's `/etc/confluent/docker/configure`, and `with_kraft()` refuses tags below
7.0.0, so `apache/kafka:4.x` is rejected). This is the plain-container equivalent of
testcontainers-java's `KafkaContainer` for `apache/kafka`: the image's own KRaft environment
variables, and an advertised listener written once the host's mapped port is known.
"""

from __future__ import annotations

from typing import Self

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

CLIENT_PORT = 9092  # SASL_PLAINTEXT (SCRAM-SHA-512), advertised as the host's mapped port
_STARTER = "/tmp/mc-kafka-start.sh"
_STARTER_READY = "/tmp/mc-kafka-start.ready"
# Logged by the broker once it is unfenced and serves clients (what testcontainers-java waits for).
_READY_LOG = r".*Transitioning from RECOVERY to RUNNING.*"

KRAFT_ENVIRONMENT = {
    "CLUSTER_ID": "4L6g3nShT-eMCtK--X86sw",
    "KAFKA_NODE_ID": "1",
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_LISTENERS": f"CLIENT://:{CLIENT_PORT},BROKER://:9093,CONTROLLER://:9094",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CLIENT:SASL_PLAINTEXT,BROKER:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
    # As the local broker and compose: SCRAM logins, and nothing allowed that no ACL grants (deploy/kafka_security/).
    "KAFKA_SASL_ENABLED_MECHANISMS": "SCRAM-SHA-512",
    "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL": "SCRAM-SHA-512",
    "KAFKA_AUTHORIZER_CLASS_NAME": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false",
    "KAFKA_SUPER_USERS": "User:admin;User:ANONYMOUS",
    "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9094",
    # One node, as the local broker: internal topics with one replica, groups joined at once.
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
    "KAFKA_NUM_PARTITIONS": "3",
}


class ApacheKafkaContainer(DockerContainer):
    """A single-node KRaft broker from an `apache/kafka` image, reachable from the host."""

    def __init__(self, image: str, admin_password: str) -> None:
        super().__init__(image)
        self.with_exposed_ports(CLIENT_PORT)
        for key, value in KRAFT_ENVIRONMENT.items():
            self.with_env(key, value)
        self.admin_password = admin_password
        jaas = f'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="{admin_password}";'
        for listener in ("CLIENT", "BROKER"):  # listener.name.<listener>.scram-sha-512.sasl.jaas.config
            self.with_env(f"KAFKA_LISTENER_NAME_{listener}_SCRAM___SHA___512_SASL_JAAS_CONFIG", jaas)
        # The mapped port exists only once the container runs: the broker starts when the script
        # that advertises it has been copied in (the ready flag avoids executing a half-written file).
        self.with_command(["sh", "-c", f"while [ ! -f {_STARTER_READY} ]; do sleep 0.1; done; exec {_STARTER}"])

    def get_bootstrap_server(self) -> str:
        """`host:port` of the broker as seen from this machine."""
        return f"{self.get_container_host_ip()}:{self.get_exposed_port(CLIENT_PORT)}"

    def start(self) -> Self:
        """Start the container, hand it the advertised listeners, and wait until the broker serves clients."""
        super().start()
        container = self.get_wrapped_container()
        container.reload()
        hostname = container.attrs["Config"]["Hostname"]  # how the broker reaches itself on BROKER
        script = (
            "#!/bin/bash\n"
            f"export KAFKA_ADVERTISED_LISTENERS=CLIENT://{self.get_bootstrap_server()},BROKER://{hostname}:9093\n"
            # The admin is the one SCRAM user that must exist before the broker runs (formatted with it; the
            # image's own start then finds the storage formatted); the others are created through it.
            "/etc/kafka/docker/configure\n"
            "/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t \"$CLUSTER_ID\" -c /opt/kafka/config/server.properties "
            f"--add-scram 'SCRAM-SHA-512=[name=admin,password={self.admin_password}]'\n"
            "exec /etc/kafka/docker/run\n"
        )
        self.copy_into_container(script.encode(), _STARTER, mode=0o755)
        self.copy_into_container(b"", _STARTER_READY)
        LogMessageWaitStrategy(_READY_LOG).with_startup_timeout(120).wait_until_ready(self)
        return self
