"""The five services as separate OS processes on the real broker and database, plus a trace collector.

The directory is seeded with the local platform's seed (`deploy/directory/seed.json`) before any test runs,
and the services that keep a copy of it have read it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from playwright.async_api import Browser, async_playwright

from deploy.local import REPO_ROOT
from deploy.local.directory_seed import SEED, seed
from deploy.local.services import SERVICES, ServiceProcess, kafka_env, tracing_env
from deploy.local.ports import find_free_ports
from tests.conftest import fresh_database
from deploy.local.identity import LocalIdentity
from shared.auth import Principal
from tests.support import tokens
from tests.support.infra import kafka_client, kafka_login
from tests.support.privacy import PRIVACY_ENV


@dataclass
class RunningServices:
    """Handles on running service processes, the broker and the database they use."""

    kafka: str
    dsn: str
    processes: dict[str, ServiceProcess]
    base_env: dict[str, str]

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of each service."""
        return {name: p.url for name, p in self.processes.items()}

    def restart(self, name: str, **extra_env: str) -> ServiceProcess:
        """Stop `name` and start it again, with extra settings (e.g. a failpoint)."""
        old = self.processes[name]
        old.stop()
        proc = ServiceProcess(name, old.port, old.run_dir, env={**self.base_env, **kafka_env(kafka_login(self.kafka, name)), **extra_env})
        proc.start()
        self.processes[name] = proc
        return proc

    async def produce(
        self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None, *, as_principal: str | None = None
    ) -> tuple[int, int]:
        """Write one raw record as a partner (`as_principal`: a bank's own login) or a buggy producer would; return (partition, offset)."""
        login = {} if as_principal is None else {"principal": as_principal}
        producer = AIOKafkaProducer(**kafka_client(self.kafka, **login), enable_idempotence=True)
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, value=value, key=key, headers=headers or [])
            return meta.partition, meta.offset
        finally:
            await producer.stop()

    async def committed_offset(self, group: str, topic: str, partition: int) -> int:
        """The offset a consumer group has committed on one partition (-1 if none)."""
        admin = AIOKafkaAdminClient(**kafka_client(self.kafka))
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        found = offsets.get(TopicPartition(topic, partition))
        return found.offset if found is not None else -1

    async def wait_committed_past(self, group: str, topic: str, partition: int, offset: int, timeout: float = 30) -> None:
        """Wait until `group` committed past `offset`: the record was fully processed."""
        deadline = time.monotonic() + timeout
        while await self.committed_offset(group, topic, partition) <= offset:
            assert time.monotonic() < deadline, f"{group} did not commit past {topic}[{partition}]@{offset}"
            await asyncio.sleep(0.1)


@dataclass
class RunningPlatform(RunningServices):
    """The five services, with the trace UI they export to and the identity provider they trust."""

    zipkin: str  # Zipkin's base URL: every service's spans go there
    identity: LocalIdentity  # the real Keycloak the services trust

    async def bearer(self, principal: Principal) -> dict[str, str]:
        """The Authorization header of `principal`, from Keycloak."""
        return await self.identity.headers(principal)


async def eventually(probe: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll an async probe until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def seed_directory(directory_url: str, dsn: str, identity: LocalIdentity) -> None:
    """Seed the directory through its admin API, as the demo administrator, and wait until assessment and notifications have copied it."""
    headers = await identity.headers(tokens.admin())
    await asyncio.to_thread(seed, directory_url, headers)
    seeded = json.loads(SEED.read_text(encoding="utf-8"))
    expected = (len(seeded["banks"]), len(seeded["associations"]), len(seeded["contacts"]))
    conn = await asyncpg.connect(dsn)
    try:

        async def copied() -> bool:
            found = (
                await conn.fetchval("select count(*) from assessment.directory_banks"),
                await conn.fetchval("select count(*) from assessment.directory_associations"),
                await conn.fetchval("select count(*) from notifications.directory_contacts"),
            )
            return found == expected

        await eventually(copied, timeout=60, what="assessment and notifications to copy the seeded directory")
    finally:
        await conn.close()


# A killed consumer's partitions go to the others after 6 s (the broker's minimum session timeout), not 10:
# the tests that kill a service wait that long for the group to move on.
QUICK_FAILOVER = {"CONSUMER_SESSION_TIMEOUT_MS": "6000", "CONSUMER_HEARTBEAT_INTERVAL_MS": "1000"}


@asynccontextmanager
async def running_platform(
    kafka: str, postgres: str, keycloak: LocalIdentity, zipkin: str, run_dir: Path, settings: dict[str, dict[str, str]] | None = None
) -> AsyncIterator[RunningPlatform]:
    """The six services on a database of their own, exporting to Zipkin, the directory seeded; all stopped after.

    `settings`: more settings of one service (`{"notifications": {"WEBHOOK_ALLOW_INSECURE_URLS": "true"}}`)."""
    async with fresh_database(postgres) as dsn:
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "DATABASE_URL": dsn,
            "OUTBOX_POLL_SECONDS": "0.5",
            # A bank's topics created during a test are subscribed to within seconds (60 s by default).
            "KAFKA_METADATA_MAX_AGE_MS": "2000",
            **QUICK_FAILOVER,
            "OIDC_ISSUER": keycloak.issuer,
            **tracing_env(zipkin),
            **PRIVACY_ENV,  # the services that seal or open personal fields need the KEK
        }
        async with running_services(SERVICES, env, run_dir, settings) as processes:
            await seed_directory(processes["directory"].url, dsn, keycloak)
            yield RunningPlatform(kafka, dsn, processes, env, zipkin, keycloak)


def _own_kafka_principal(env: dict[str, str], name: str) -> dict[str, str]:
    """The service's own Kafka credentials on the broker `env` names (the broker requires SASL)."""
    return kafka_env(kafka_login(env["KAFKA_BOOTSTRAP_SERVERS"], name))


@asynccontextmanager
async def running_services(
    names: Sequence[str], env: dict[str, str], run_dir: Path, settings: dict[str, dict[str, str]] | None = None
) -> AsyncIterator[dict[str, ServiceProcess]]:
    """The services `names` as OS processes with the settings `env` (and `settings` of one), ready; all stopped after.

    The processes a test puts in the dict instead (a restart) are the ones stopped."""
    ports = find_free_ports(len(names))
    processes = {
        name: ServiceProcess(name, port, run_dir, env={**env, **_own_kafka_principal(env, name), **(settings or {}).get(name, {})})
        for name, port in zip(names, ports)
    }
    try:
        for proc in processes.values():
            proc.start()
        for proc in processes.values():
            await asyncio.to_thread(proc.wait_ready)
        yield processes
    finally:
        for proc in processes.values():
            proc.stop()


@pytest.fixture(scope="module")
async def platform(
    kafka: str, postgres: str, keycloak: LocalIdentity, zipkin: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningPlatform]:
    """The platform of one test module (tests/e2e/web/ shares one across its modules instead)."""
    async with running_platform(kafka, postgres, keycloak, zipkin, tmp_path_factory.mktemp("platform")) as running:
        yield running


@pytest.fixture
async def db(platform: RunningPlatform) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the platform's database, to check what the services stored."""
    conn = await asyncpg.connect(platform.dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium (installed by deploy/browser.sh when missing), headless, one for the whole run."""
    path = subprocess.run([str(REPO_ROOT / "deploy" / "browser.sh")], capture_output=True, text=True, check=True).stdout.strip()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--lang=fr-FR"])
        yield chromium
        await chromium.close()
