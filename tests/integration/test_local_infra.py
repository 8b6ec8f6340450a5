"""The Docker-free provisioning starts a real Kafka broker and Postgres server, and stops them cleanly."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from deploy.local.infra import main as infra_main
from deploy.local.infra import start_infra, stop_infra
from deploy.local import REPO_ROOT
from deploy.local.kafka import LocalKafka, metadata_answers
from deploy.local.ports import is_port_open
from deploy.local.postgres import LocalPostgres
from deploy.local.process import group_pids, pid_alive
from deploy.versions import pinned
from tests.support import infra as support

pytestmark = [pytest.mark.integration, pytest.mark.own_servers]

# Its own state dir: independent of the platform's (.local) and of the suite's shared test infra (.local/test).
STATE_DIR = REPO_ROOT / ".local" / "test-provisioning"


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    """A state dir wiped before the module, so initdb and storage formatting run too (cold path)."""
    LocalKafka(STATE_DIR).stop()
    LocalPostgres(STATE_DIR).stop()
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    yield STATE_DIR


@pytest.fixture(scope="module")
def kafka(state_dir: Path) -> Iterator[LocalKafka]:
    """One broker for the whole module (started once: the slow part)."""
    broker = LocalKafka(state_dir)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def postgres(state_dir: Path) -> Iterator[LocalPostgres]:
    """One Postgres cluster for the whole module."""
    cluster = LocalPostgres(state_dir)
    cluster.start()
    yield cluster
    cluster.stop()


def test_broker_answers_metadata_on_loopback(kafka: LocalKafka) -> None:
    status = kafka.status()
    assert status.running and status.pid is not None and pid_alive(status.pid)
    assert status.address is not None and status.address.startswith("127.0.0.1:")
    assert metadata_answers(status.address, login=kafka.login())
    # The listener accepts no anonymous client.
    assert not metadata_answers(status.address)


def test_second_start_reuses_the_running_broker(kafka: LocalKafka) -> None:
    before = kafka.status()
    assert LocalKafka(kafka.state_dir).start() == before.address
    assert kafka.status().pid == before.pid


async def test_auto_created_topic_gets_three_partitions(kafka: LocalKafka) -> None:
    assert kafka.address is not None
    topic = f"auto-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka.address, **kafka.login().aiokafka())
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.address, **kafka.login().aiokafka())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert len(described["partitions"]) == 3


async def test_idempotent_producer_and_group_resumes_after_committed_offset(kafka: LocalKafka) -> None:
    assert kafka.address is not None
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    sent = [f"m{i}".encode() for i in range(10)]

    producer = AIOKafkaProducer(bootstrap_servers=kafka.address, enable_idempotence=True, acks="all", **kafka.login().aiokafka())
    await producer.start()
    try:
        # One partition gives a total order, so "after the committed offset" is exact.
        for value in sent:
            await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()

    def consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic, bootstrap_servers=kafka.address, group_id=group, **kafka.login().aiokafka(),
            enable_auto_commit=False, auto_offset_reset="earliest",
        )

    first = consumer()
    await first.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < 4:
            batches = await first.getmany(timeout_ms=2000, max_records=4 - len(records))
            records += [record for batch in batches.values() for record in batch]
        tp = TopicPartition(topic, 0)
        await first.commit({tp: records[-1].offset + 1})
        assert await first.committed(tp) == 4
    finally:
        await first.stop()
    assert [record.value for record in records] == sent[:4]

    second = consumer()
    await second.start()
    try:
        rest: list[ConsumerRecord[bytes, bytes]] = []
        for _ in range(20):
            if len(rest) >= 6:
                break
            batches = await second.getmany(timeout_ms=1000)
            rest += [record for batch in batches.values() for record in batch]
    finally:
        await second.stop()
    assert [record.value for record in rest] == sent[4:]


async def test_postgres_answers_select_1(postgres: LocalPostgres) -> None:
    status = postgres.status()
    assert status.running and status.dsn is not None
    assert status.dsn.startswith("postgresql://postgres@127.0.0.1:")
    connection = await asyncpg.connect(status.dsn)
    try:
        assert await connection.fetchval("select 1") == 1
        assert await connection.fetchval("show max_connections") == "200"
        assert await connection.fetchval("show fsync") == "on"
    finally:
        await connection.close()


async def test_postgres_is_the_pinned_major_version(postgres: LocalPostgres) -> None:
    assert postgres.status().dsn is not None
    connection = await asyncpg.connect(postgres.status().dsn)
    try:
        version = int(await connection.fetchval("show server_version_num"))
    finally:
        await connection.close()
    assert version // 10000 == int(pinned("postgres")), "deploy/versions.toml pins another major"


def test_second_start_reuses_the_running_postgres(postgres: LocalPostgres) -> None:
    before = postgres.status()
    assert LocalPostgres(postgres.state_dir).start() == before.dsn
    assert postgres.status().pid == before.pid


def test_start_infra_and_cli_status_reuse_running_services(
    kafka: LocalKafka, postgres: LocalPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    assert start_infra(kafka.state_dir) == (kafka.address, postgres.dsn)
    assert infra_main(["status", "--state-dir", str(kafka.state_dir)]) == 0
    printed = capsys.readouterr().out
    assert str(kafka.address) in printed and str(postgres.dsn) in printed


def test_support_prefers_addresses_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(support.KAFKA_ENV, "example.invalid:9092")
    monkeypatch.setenv(support.POSTGRES_ENV, "postgresql://u@example.invalid/db")
    with support.kafka_bootstrap() as bootstrap, support.postgres_dsn() as dsn:
        assert bootstrap == "example.invalid:9092"
        assert dsn == "postgresql://u@example.invalid/db"


def test_platform_status_says_the_services_are_down_when_only_kafka_and_postgres_run(
    kafka: LocalKafka, postgres: LocalPostgres
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deploy.local.platform", "status", "--state-dir", str(kafka.state_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 1, "a partial platform is a failure"
    kafka_line, postgres_line, *_ = done.stdout.splitlines()
    assert kafka_line.split() == ["kafka", "up", str(kafka.address)]
    assert postgres_line.split() == ["postgres", "up", str(postgres.dsn)]
    assert "down: keycloak, intake, assessment, servicing, notifications, directory, privacy, web, zipkin, victoriametrics" in done.stdout


def test_stop_leaves_no_process_behind(kafka: LocalKafka, postgres: LocalPostgres) -> None:
    # Last test of the module: it stops what the fixtures started (their own stop is then a no-op).
    kafka_status, postgres_status = kafka.status(), postgres.status()
    assert kafka_status.pid is not None and postgres_status.pid is not None
    assert kafka_status.address is not None and postgres_status.dsn is not None
    kafka_port = int(kafka_status.address.rsplit(":", 1)[1])
    postgres_port = int(postgres_status.dsn.rsplit(":", 1)[1].split("/")[0])

    stop_infra(kafka.state_dir)

    for pid in (kafka_status.pid, postgres_status.pid):
        assert not pid_alive(pid)
        # Both run as process-group leaders: nothing they spawned may survive either.
        assert group_pids(pid) == []
    assert not is_port_open(kafka_port) and not is_port_open(postgres_port)
    assert not kafka.status().running and not postgres.status().running
