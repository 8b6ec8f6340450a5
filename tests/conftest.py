"""Session fixtures: a real Kafka broker and Postgres, found in the environment, Docker, or provisioned here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from uuid import uuid4

import asyncpg
import pytest

from deploy.local.topics import ensure_topics
from deploy.local.identity import LocalIdentity
from tests.support.background import BackgroundServers
from tests.support.infra import kafka_bootstrap as _kafka_bootstrap
from tests.support.infra import kafka_login, local_keycloak, local_state_dir
from deploy.local.zipkin import LocalZipkin
from tests.support.infra import postgres_dsn as _postgres_dsn


@contextmanager
def _kafka(_: BackgroundServers) -> Iterator[str]:
    """Bootstrap address of a real broker with the platform's topics created; it requires SASL (`kafka_client`)."""
    with _kafka_bootstrap() as bootstrap:
        asyncio.run(ensure_topics(bootstrap, kafka_login(bootstrap)))
        yield bootstrap


@contextmanager
def _zipkin(_: BackgroundServers) -> Iterator[str]:
    """A real Zipkin server (the trace UI ops use), its base URL."""
    server = LocalZipkin(local_state_dir())
    server.start()
    try:
        yield server.wait_ready()
    finally:
        server.stop()


SERVERS = BackgroundServers({
    "postgres": lambda _: _postgres_dsn(),
    "kafka": _kafka,
    "zipkin": _zipkin,
    "keycloak": lambda servers: local_keycloak(servers.get("postgres")),
})


def _servers_used(item: pytest.Item) -> set[str]:
    """The session servers among the fixtures `item` uses (a module's own fixture of the same name is not one)."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return {name for name in SERVERS.names if name in definitions and definitions[name][-1].func.__module__ == __name__}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the servers the collected tests need, side by side, and run first the modules that need none of them.

    Then the modules that need only Postgres (quick to start), then the others: meanwhile Kafka, Zipkin and
    Keycloak boot. The modules that start servers of their own (`own_servers`) run last: their broker booting
    beside the session's, Keycloak's and Zipkin's left the session's broker unanswered after its 60 s on two
    busy cores. A module's tests stay together (its fixtures are set up once)."""
    if config.option.collectonly:
        return
    needs: dict[str, set[str]] = {}
    for item in items:
        needs.setdefault(item.nodeid.split("::")[0], set()).update(_servers_used(item))
    for name in SERVERS.names:
        if any(name in servers for servers in needs.values()):
            SERVERS.start(name)

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("own_servers"):
            return 3
        servers = needs[item.nodeid.split("::")[0]]
        return 0 if not servers else 1 if servers == {"postgres"} else 2

    items.sort(key=rank)


def pytest_sessionfinish() -> None:
    SERVERS.close()


@pytest.fixture(scope="session")
def kafka() -> str:
    """Bootstrap address of a real broker with the platform's topics created; it requires SASL (`kafka_client`)."""
    return SERVERS.get("kafka")


@pytest.fixture(scope="session")
def postgres() -> str:
    """DSN of a real Postgres server (its `postgres` database)."""
    return SERVERS.get("postgres")


@pytest.fixture(scope="session")
def zipkin() -> str:
    """A real Zipkin server (the trace UI ops use), its base URL; the end-to-end platforms export their spans to it."""
    return SERVERS.get("zipkin")


@pytest.fixture(scope="session")
def keycloak() -> LocalIdentity:
    """The real identity provider (Keycloak, the platform's realm), and tokens of any principal from it."""
    return SERVERS.get("keycloak")


def _with_database(dsn: str, database: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{database}"


@asynccontextmanager
async def fresh_database(server_dsn: str) -> AsyncIterator[str]:
    """A brand-new database on `server_dsn`, dropped afterwards: no state leaks between tests."""
    name = f"t_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"create database {name}")
    finally:
        await admin.close()
    try:
        yield _with_database(server_dsn, name)
    finally:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f"drop database if exists {name} with (force)")
        finally:
            await admin.close()


@pytest.fixture
async def database(postgres: str) -> AsyncIterator[str]:
    """DSN of a database of the test's own."""
    async with fresh_database(postgres) as dsn:
        yield dsn
