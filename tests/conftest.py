"""Session fixtures: a real Kafka broker and Postgres, found in the environment, Docker, or provisioned here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from uuid import uuid4

import asyncpg
import pytest

from deploy.local.topics import ensure_topics
from deploy.local.identity import LocalIdentity
from tests.support.infra import kafka_bootstrap as _kafka_bootstrap
from tests.support.infra import kafka_login, local_keycloak, local_state_dir
from deploy.local.zipkin import LocalZipkin
from tests.support.infra import postgres_dsn as _postgres_dsn


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """Bootstrap address of a real broker with the platform's topics created; it requires SASL (`kafka_client`)."""
    with _kafka_bootstrap() as bootstrap:
        asyncio.run(ensure_topics(bootstrap, kafka_login(bootstrap)))
        yield bootstrap


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """DSN of a real Postgres server (its `postgres` database)."""
    with _postgres_dsn() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def zipkin() -> Iterator[str]:
    """A real Zipkin server (the trace UI ops use), its base URL; the end-to-end platforms export their spans to it."""
    server = LocalZipkin(local_state_dir())
    server.start()
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def keycloak(postgres: str) -> Iterator[LocalIdentity]:
    """The real identity provider (Keycloak, the platform's realm), and tokens of any principal from it."""
    with local_keycloak(postgres) as identity:
        yield identity


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
