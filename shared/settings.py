"""Settings common to every service, read from the environment with one prefix per service."""

from __future__ import annotations

import base64

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.kafka_auth import KafkaLogin
from shared.privacy.keyring import KeyRing


class ServiceSettings(BaseSettings):
    """Base settings; each service subclasses it with its own `env_prefix` (e.g. `INTAKE_`)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated Kafka bootstrap addresses."
    )
    kafka_username: str | None = Field(
        None, description="The service's own Kafka principal (SASL/SCRAM-SHA-512); unset: no authentication (in-memory tests)."
    )
    kafka_password: SecretStr | None = Field(None, description="The SCRAM password of `kafka_username`.")
    kafka_tls: bool = Field(False, description="SASL over TLS (SASL_SSL), as in production; locally the listener is plaintext.")
    kafka_metadata_max_age_ms: int = Field(
        60_000, ge=1_000, le=3_600_000,
        description="How often the Kafka clients refresh the topics' metadata: a topic created later that a pattern "
        "subscription matches (a new bank's decisions or payments topic) is read within this delay.",
    )
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/postgres"),
        description="asyncpg DSN of the Postgres database holding this service's schema.",
    )
    database_pool_size: int = Field(10, ge=1, le=100, description="Maximum pooled connections.")
    http_host: str = Field("127.0.0.1", description="Interface the HTTP API listens on.")
    http_port: int = Field(8000, ge=0, le=65535, description="Port the HTTP API listens on.")
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); no export if unset."
    )
    oidc_issuer: str = Field(
        description="The identity provider's issuer URL (Keycloak: `https://…/realms/microcredit`): tokens must name it, "
        "and its discovery document gives the keys that sign them."
    )
    oidc_audience: str = Field("microcredit-platform", description="The audience every access token must carry.")
    oidc_jwks_url: str | None = Field(
        None, description="Where the signing keys are published, when not where the discovery document says."
    )
    oidc_leeway_seconds: float = Field(30.0, ge=0, le=300, description="Tolerance on expiry and not-before for clock skew.")
    oidc_keys_ttl_seconds: float = Field(
        300.0, gt=0, le=86_400, description="How long fetched keys are trusted before they are fetched again (a removed key stops working)."
    )
    outbox_batch_size: int = Field(500, ge=1, le=10_000, description="Rows the relay publishes per batch.")
    outbox_poll_seconds: float = Field(
        1.0, gt=0, description="Relay poll period when no NOTIFY wakes it up earlier."
    )
    consumer_batch_size: int = Field(
        500, ge=1, le=10_000, description="Most records a consumer group applies per fetch (one transaction per partition)."
    )
    consumer_batch_wait_ms: int = Field(
        500, ge=1, le=10_000,
        description="How long an idle consumer's fetch waits before its loop turns again; a fetch returns as soon as "
        "records arrive, so no record waits for it.",
    )
    consumer_commit_interval_ms: int = Field(
        100, ge=0, le=10_000,
        description="How long a consumer group lets the offsets of the fetches it applied wait before it commits them "
        "together (0: a commit after every fetch). A crash in between brings those records again; the inbox skips them.",
    )
    consumer_park_retry_seconds: float = Field(
        2.0, gt=0, le=3600, description="Period at which parked events (arrived before what they refer to) are tried again."
    )
    consumer_park_max_seconds: float = Field(
        3600.0, ge=0,
        description="How long an event waits parked for what it refers to before it goes to the dead-letter topic "
        "(0: at the first retry).",
    )
    consumer_session_timeout_ms: int = Field(
        10_000, ge=1_000, le=300_000,
        description="How long the group coordinator waits without a heartbeat before it hands a replica's partitions to "
        "the others (aiokafka's default; the broker's `group.min.session.timeout.ms` is the floor).",
    )
    consumer_heartbeat_interval_ms: int = Field(
        3_000, ge=100, le=60_000,
        description="Heartbeat period of a consumer: how soon it hears that its group rebalances (a third of the session timeout at most).",
    )
    trace_sql: bool = Field(
        False, description="One span per SQL statement (costly: for a diagnosis, not for every day)."
    )
    metrics_refresh_seconds: float = Field(
        15.0, ge=0, description="Period of the consumer lag, topic size and outbox age gauges (0: not refreshed)."
    )
    idempotency_key_ttl_seconds: float = Field(
        86_400.0, gt=0, description="How long an `Idempotency-Key` and the first answer to it are kept (24 h by default)."
    )
    idempotency_cleanup_seconds: float = Field(
        600.0, ge=0, description="Period of the deletion of expired idempotency keys (0: never; an expired key is reused anyway)."
    )
    privacy_kek: SecretStr | None = Field(
        None,
        description="The platform's key-encryption key (base64 of 32 bytes) that wraps each applicant's data key in the "
        "keyring; required by the services that write or read personal fields (a secret: `.local/privacy/kek` locally).",
    )
    failpoints: str = Field(
        "",
        description=(
            "Fault injection for resilience tests: `after_commit:<event type>` kills the process with SIGKILL "
            "after the batch's transaction commits and before the Kafka offset commit; `before_commit:<event type>` "
            "kills it in the middle of a batch, once that event is applied and before the transaction commits."
        ),
    )

    def keyring(self) -> KeyRing:
        """The keyring of the applicants' data keys, unwrapped with `privacy_kek`; a clear error when it is not given."""
        if self.privacy_kek is None:
            raise ValueError(f"{self.model_config.get('env_prefix', '')}PRIVACY_KEK is not set: personal fields cannot be sealed or read")
        return KeyRing(base64.b64decode(self.privacy_kek.get_secret_value(), validate=True))

    @property
    def kafka_login(self) -> KafkaLogin | None:
        """The service's Kafka credentials, None when it is given none."""
        if self.kafka_username is None:
            return None
        password = self.kafka_password.get_secret_value() if self.kafka_password is not None else ""
        return KafkaLogin(self.kafka_username, password, tls=self.kafka_tls)
