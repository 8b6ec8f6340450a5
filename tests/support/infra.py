"""Find a Kafka broker and a Postgres server for the tests: environment, then Docker, then local processes.

Order, for each of the two:
  (a) an address in the environment (``MC_TEST_KAFKA_BOOTSTRAP`` / ``MC_TEST_POSTGRES_DSN``): used as is,
      nothing is started or stopped;
  (b) a testcontainers container when a Docker engine answers (``MC_TEST_DOCKER=0`` skips this step),
      of the official images at the versions pinned in ``deploy/versions.toml``, as the local launcher
      and docker-compose.yml (override: ``MC_TEST_KAFKA_IMAGE``, an ``apache/kafka`` image, and
      ``MC_TEST_POSTGRES_IMAGE``);
  (c) otherwise the Docker-free provisioning of ``deploy.local`` in ``<repo>/.local/test`` (its own
      state dir and free ports, so a platform running from ``<repo>/.local`` is left alone).

Local state between sessions: Kafka starts from an empty data dir every session (leftover topics,
offsets and consumer groups would make tests depend on earlier runs); it is wiped at the start, not
at the end, so the last session's logs stay for a post-mortem. The Postgres cluster (initdb) is kept
between sessions for speed: fixtures that need a clean database create their own. The Maven-fetched Kafka jars are shared with the platform.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from deploy.local import REPO_ROOT
from deploy.local.identity import LocalIdentity
from deploy.local.kafka import LocalKafka
from deploy.local.keycloak import LocalKeycloak
from deploy.local.postgres import LocalPostgres
from deploy.versions import pinned
from deploy import kafka_security
from deploy.kafka_security.broker import provision
from shared.kafka_auth import KafkaLogin

KAFKA_ENV = "MC_TEST_KAFKA_BOOTSTRAP"
POSTGRES_ENV = "MC_TEST_POSTGRES_DSN"
DOCKER_ENV = "MC_TEST_DOCKER"
DEFAULT_KAFKA_IMAGE = f"apache/kafka:{pinned('kafka')}"
DEFAULT_POSTGRES_IMAGE = f"postgres:{pinned('postgres')}"
# A broker given by address: the file of its principals' passwords (deploy/kafka_security/'s format).
KAFKA_CREDENTIALS_ENV = "MC_TEST_KAFKA_CREDENTIALS"

# The principals' passwords of each broker this session uses, by bootstrap address (the broker requires SASL).
_CREDENTIALS: dict[str, kafka_security.Credentials] = {}


def kafka_login(bootstrap: str, principal: str = kafka_security.ADMIN) -> KafkaLogin:
    """How to log in to the session's broker at `bootstrap` as `principal`: the admin (tests, tools) by default."""
    credentials = _CREDENTIALS.get(bootstrap)
    if credentials is None and (path := os.environ.get(KAFKA_CREDENTIALS_ENV)):
        credentials = _CREDENTIALS[bootstrap] = kafka_security.Credentials(Path(path))
    if credentials is None:
        raise RuntimeError(f"no credentials known for the broker at {bootstrap} (set {KAFKA_CREDENTIALS_ENV})")
    return credentials.login(principal)


def kafka_client(bootstrap: str, principal: str = kafka_security.ADMIN) -> dict[str, object]:
    """aiokafka's connection arguments for the broker at `bootstrap`, logged in as `principal` (the admin by default)."""
    return {"bootstrap_servers": bootstrap, **kafka_login(bootstrap, principal).aiokafka()}


def service_kafka_settings(bootstrap: str, service: str) -> dict[str, str]:
    """A service's settings naming its own principal on the broker at `bootstrap` (as `make run` gives them)."""
    login = kafka_login(bootstrap, service)
    return {"kafka_username": login.username, "kafka_password": login.password}


def remember_credentials(kafka: LocalKafka, address: str) -> None:
    """Record the passwords of a broker this session started, for `kafka_login`."""
    _CREDENTIALS[address] = kafka.credentials


def local_state_dir() -> Path:
    """Return the local state dir for tests: ``<repo>/.local/test`` (one sub-dir per xdist worker)."""
    if override := os.environ.get("MC_TEST_STATE_DIR"):
        return Path(override).resolve()
    base = REPO_ROOT / ".local" / "test"
    # Parallel workers must not share (and wipe) each other's broker.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return base / worker if worker else base


@lru_cache(maxsize=1)
def docker_available() -> bool:
    """Tell whether a Docker engine answers a ping (fast False when there is none)."""
    if os.environ.get(DOCKER_ENV) == "0":
        return False
    try:
        import docker  # testcontainers' dependency; imported lazily, it is slow to import

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure (no socket, no permission, old API) means "no Docker"
        return False


@contextmanager
def _session_lock(name: str) -> Iterator[None]:
    """Hold a non-blocking exclusive lock so two test sessions never share (and wipe) one local server."""
    state_dir = local_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / f"{name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(
                f"another test session is using the local {name} in {state_dir}; wait for it, or set "
                f"MC_TEST_STATE_DIR to another directory, or {KAFKA_ENV}/{POSTGRES_ENV}"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _local_kafka() -> Iterator[str]:
    """Start a fresh local broker in the test state dir and stop it afterwards."""
    with _session_lock("kafka"):
        kafka = LocalKafka(local_state_dir())
        # The lock proves no live session owns a broker here: anything running is a leftover.
        kafka.stop()
        shutil.rmtree(kafka.home, ignore_errors=True)  # data, logs, remembered ports and passwords
        try:
            address = kafka.start()
            remember_credentials(kafka, address)
            yield address
        finally:
            kafka.stop()


@contextmanager
def _local_postgres() -> Iterator[str]:
    """Start (or reuse) the local test cluster and stop it afterwards; the cluster (initdb) is kept."""
    with _session_lock("postgres"):
        postgres = LocalPostgres(local_state_dir())
        try:
            yield postgres.start()
        finally:
            postgres.stop()


@contextmanager
def servers_of_their_own(name: str) -> Iterator[tuple[LocalKafka, LocalPostgres]]:
    """A broker and a Postgres cluster of one test module, started in ``<state dir>/<name>`` and stopped after.

    Always local processes (never the environment's or a container): the tests that use them kill and restart
    them, which the session's shared servers must never undergo. The broker starts from an empty data dir; the
    cluster (initdb) is kept between sessions, as the session's is, and its users create their own database.
    """
    with _session_lock(name):
        state_dir = local_state_dir() / name
        kafka, postgres = LocalKafka(state_dir), LocalPostgres(state_dir)
        # The lock proves no live session owns them: anything running is a leftover of a killed session.
        kafka.stop()
        postgres.stop()
        shutil.rmtree(kafka.home, ignore_errors=True)
        try:
            postgres.start()
            remember_credentials(kafka, kafka.start())
            yield kafka, postgres
        finally:
            try:
                kafka.stop()
            finally:
                postgres.stop()


@contextmanager
def _kafka_container() -> Iterator[str]:
    """Run Kafka in a testcontainers container (the official image, KRaft) and yield its bootstrap address.

    Its users and ACLs are the local broker's (deploy/kafka_security/), their passwords new for each session.
    (Written without a Docker engine to run it on: the local broker is what the suite runs on here.)
    """
    from tests.support.kafka_container import ApacheKafkaContainer  # imports testcontainers: slow
    from deploy.local.process import run_blocking
    from deploy.local.topics import ensure_partner_topics

    image = os.environ.get("MC_TEST_KAFKA_IMAGE", DEFAULT_KAFKA_IMAGE)
    credentials = kafka_security.Credentials(local_state_dir() / "kafka-container-credentials.json")
    credentials.path.unlink(missing_ok=True)
    admin = credentials.ensure([kafka_security.ADMIN])[kafka_security.ADMIN]
    with ApacheKafkaContainer(image, admin) as container:
        address = container.get_bootstrap_server()
        banks = kafka_security.seed_banks()
        provision(address, credentials, banks)
        run_blocking(ensure_partner_topics(address, credentials.login(kafka_security.ADMIN), banks))
        _CREDENTIALS[address] = credentials
        yield address


@contextmanager
def _postgres_container() -> Iterator[str]:
    """Run Postgres in a testcontainers container and yield a driver-less DSN (asyncpg-ready)."""
    from testcontainers.community.postgres import PostgresContainer

    image = os.environ.get("MC_TEST_POSTGRES_IMAGE", DEFAULT_POSTGRES_IMAGE)
    with PostgresContainer(
        image, username="postgres", password="postgres", dbname="postgres", driver=None
    ) as container:
        yield str(container.get_connection_url())


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """Yield a Kafka bootstrap address (env, else container, else local broker) and clean up what was started."""
    if address := os.environ.get(KAFKA_ENV):
        yield address
    elif docker_available():
        with _kafka_container() as address:
            yield address
    else:
        with _local_kafka() as address:
            yield address


@contextmanager
def postgres_dsn() -> Iterator[str]:
    """Yield a Postgres DSN (env, else container, else local cluster) and clean up what was started."""
    if dsn := os.environ.get(POSTGRES_ENV):
        yield dsn
    elif docker_available():
        with _postgres_container() as dsn:
            yield dsn
    else:
        with _local_postgres() as dsn:
            yield dsn


@contextmanager
def local_keycloak(postgres_dsn: str) -> Iterator[LocalIdentity]:
    """Start Keycloak in the test state dir (its database in the test cluster) and stop it afterwards.

    The realm and the people tests create stay in the test cluster between sessions, with the
    secrets of the same state dir; only a Docker-free local Keycloak is provided (no container).
    """
    with _session_lock("keycloak"):
        keycloak = LocalKeycloak(local_state_dir())
        keycloak.stop()  # a leftover of a killed session
        try:
            keycloak.start(postgres_dsn, settings={"MC_WEB_BASE_URL": "http://127.0.0.1:8000"})
            yield LocalIdentity.of(keycloak)
        finally:
            keycloak.stop()
