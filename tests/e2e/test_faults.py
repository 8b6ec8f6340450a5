"""Faults under batching: a consumer killed in the middle of a batch, the broker killed, Postgres crashed and restarted.

Intake and assessment run on a broker and a Postgres of this module's own (the tests kill them and start them
again; the session's are shared). Counsellors file applications through intake's HTTP API, as they would: intake
writes each `application submitted` with the file (its outbox), the relay publishes it, assessment applies
it (its inbox) in batches. After each fault, every file intake holds as submitted is assessed exactly once,
the outboxes are empty, and the consumer group has committed to the end of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from deploy.local.kafka import LocalKafka
from deploy.local.postgres import LocalPostgres
from deploy.local.process import child_pids
from deploy.local.services import tracing_env
from deploy.local.topics import ensure_topics
from shared.events import ApplicationSubmitted, ApplicationWithdrawn, ApplicationWithdrawnData
from shared.events import Topics, new_event, parse_event
from tests.support.infra import kafka_client
from tests.conftest import fresh_database
from tests.e2e.conftest import QUICK_FAILOVER, RunningServices, eventually, running_services
from tests.e2e.test_resilience import application_submitted
from tests.support import tokens
from tests.support.infra import servers_of_their_own
from tests.support.intake import complete_file
from tests.support.privacy import PRIVACY_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.own_servers]

GROUP = "assessment"  # assessment's consumer group on the applications stream
RECOVERY = 120.0  # seconds a recovery may take on a loaded 2-core machine before the test calls it stuck


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LocalKafka, LocalPostgres]]:
    """This module's broker (the platform's topics created) and Postgres cluster."""
    with servers_of_their_own("faults") as (broker, database):
        assert broker.address is not None
        asyncio.run(ensure_topics(broker.address, broker.login()))
        yield broker, database


@dataclass
class Rig:
    """Intake and assessment running on a broker and a Postgres this module may kill."""

    services: RunningServices
    broker: LocalKafka
    database: LocalPostgres

    def kill_broker(self) -> None:
        """SIGKILL the broker's process group, as a crash would: no controlled shutdown, no flushed log."""
        pid = self.broker.status().pid
        assert pid is not None, "the broker is not running"
        os.killpg(pid, signal.SIGKILL)
        self.broker.stop()  # reaps it

    def start_broker(self) -> None:
        """Start the broker again on its data dir and its port (the services' bootstrap address)."""
        self.broker.requested_port = int(self.services.kafka.rpartition(":")[2])
        self.broker.start()

    def crash_postgres(self) -> None:
        """SIGKILL the postmaster and every process it started, then start the cluster again (crash recovery from its WAL)."""
        self.database.requested_port = self._postgres_port()
        postmaster = self.database.status().pid
        assert postmaster is not None, "Postgres is not running"
        cluster = [postmaster, *child_pids(postmaster)]
        for pid in cluster:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # Until the old postmaster is reaped (not our child: init reaps it), its pid in postmaster.pid looks alive.
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in cluster):
            assert time.monotonic() < deadline, "the killed Postgres processes did not go away"
            time.sleep(0.05)
        self.database.start()

    def _postgres_port(self) -> int:
        return int(self.services.dsn.rpartition(":")[2].partition("/")[0])

    async def wait_ready(self) -> None:
        """Every service's `/ready` answers 200 again (database and broker reachable)."""
        for proc in self.services.processes.values():
            await asyncio.to_thread(proc.wait_ready, RECOVERY)


@pytest.fixture(scope="module")
async def rig(servers: tuple[LocalKafka, LocalPostgres], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    """Intake and assessment on this module's servers, trusting the test issuer's tokens; stopped after."""
    broker, database = servers
    assert broker.address is not None and database.dsn is not None
    with tokens.published_keys() as keys_url:
        async with fresh_database(database.dsn) as dsn:
            env = {
                "KAFKA_BOOTSTRAP_SERVERS": broker.address,
                "DATABASE_URL": dsn,
                "OUTBOX_POLL_SECONDS": "0.5",
                "OIDC_ISSUER": tokens.TEST_ISSUER,
                "OIDC_JWKS_URL": keys_url,
                **QUICK_FAILOVER,
                **tracing_env(None),
                **PRIVACY_ENV,
            }
            async with running_services(("intake", "assessment"), env, tmp_path_factory.mktemp("faults")) as processes:
                yield Rig(RunningServices(broker.address, dsn, processes, env), broker, database)


async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """Run one query on a connection of its own (a connection kept across a Postgres restart would be cut)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


# --- counsellors filing applications ---------------------------------------------------------------


@dataclass
class Counsellors:
    """Counsellors filing complete applications through intake, one after another, retrying what intake did not do.

    A request that fails (an error status, a cut connection) is sent again, as a counsellor would; a submission
    answered 409 after a failed attempt was the earlier attempt's success.
    """

    intake: str
    answers: Counter[str] = field(default_factory=Counter)  # "<step> <status>" → how many
    submitted: list[UUID] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """File applications until told to stop."""
        headers = tokens.bearer(tokens.counsellor())
        async with httpx.AsyncClient(base_url=self.intake, headers=headers, timeout=10) as client:
            while not self.stop.is_set():
                draft = await self._until_done(client, "draft", "/applications", complete_file(), 201)
                await self._until_done(client, "submission", f"/applications/{draft['id']}/submission", {}, 200, retried_ok=409)
                self.submitted.append(UUID(draft["id"]))
                await asyncio.sleep(0.25)

    async def _until_done(
        self, client: httpx.AsyncClient, step: str, path: str, body: dict[str, Any], ok: int, retried_ok: int | None = None
    ) -> dict[str, Any]:
        failed = False
        deadline = time.monotonic() + RECOVERY
        while True:
            try:
                answer = await client.post(path, json=body)
                self.answers[f"{step} {answer.status_code}"] += 1
                if answer.status_code == ok or (failed and answer.status_code == retried_ok):
                    return answer.json()
            except httpx.HTTPError as exc:
                self.answers[f"{step} {type(exc).__name__}"] += 1
            failed = True
            assert time.monotonic() < deadline, f"intake did not take a {step} for {RECOVERY:g} s: {dict(self.answers)}"
            await asyncio.sleep(0.1)

    async def filed(self, more_than: int) -> bool:
        """Whether more than `more_than` applications were submitted."""
        return len(self.submitted) > more_than


@dataclass
class Readiness:
    """What `/ready` of each service answers, polled until told to stop: "<service> <status>" → how many."""

    urls: dict[str, str]
    answers: Counter[str] = field(default_factory=Counter)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Ask every service every 0.2 s."""
        async with httpx.AsyncClient(timeout=5) as client:
            while not self.stop.is_set():
                for name, url in self.urls.items():
                    try:
                        self.answers[f"{name} {(await client.get(url + '/ready')).status_code}"] += 1
                    except httpx.HTTPError as exc:
                        self.answers[f"{name} {type(exc).__name__}"] += 1
                await asyncio.sleep(0.2)


# --- what the stream, the inbox and the tables say -------------------------------------------------


async def stream_partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    """The partitions of the applications stream."""
    await consumer._client.force_metadata_update()  # noqa: SLF001 - as the resilience tests do
    return [TopicPartition(Topics.APPLICATIONS, p) for p in sorted(consumer.partitions_for_topic(Topics.APPLICATIONS) or ())]


async def submissions_on_the_wire(bootstrap: str) -> dict[UUID, list[UUID]]:
    """Application id → the event id of every `application submitted` record on the applications stream (repeats kept)."""
    consumer = AIOKafkaConsumer(**kafka_client(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await stream_partitions(consumer)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[UUID, list[UUID]] = {}
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = parse_event(record.value)
                    if isinstance(event, ApplicationSubmitted):
                        found.setdefault(event.data.application_id, []).append(event.id)
        return found
    finally:
        await consumer.stop()


async def caught_up(services: RunningServices) -> None:
    """Wait until assessment's group has committed to the end of every partition of the applications stream."""
    consumer = AIOKafkaConsumer(**kafka_client(services.kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await stream_partitions(consumer)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    for tp, end in ends.items():
        if end:
            await services.wait_committed_past(GROUP, tp.topic, tp.partition, end - 1, timeout=RECOVERY)


async def applied_once(dsn: str, events: dict[UUID, UUID]) -> dict[str, Counter[int]]:
    """For the applications `events` names (application id → its event id), how many times each was applied:
    assessment's inbox claims of the event, its files, its `file received` audit lines ({"inbox": {1: 40}, …})."""
    ids, event_ids = list(events), list(events.values())
    inbox = await fetch(dsn, "select event_id, count(*) from assessment.inbox where consumer = $1 and event_id = any($2) group by 1", GROUP, event_ids)
    files = await fetch(dsn, "select application_id, count(*) from assessment.assessments where application_id = any($1) group by 1", ids)
    audit = await fetch(
        dsn, "select application_id, count(*) from assessment.assessment_audit where action = 'file_received' and application_id = any($1) group by 1", ids
    )
    counts = {"inbox": {r[0]: r[1] for r in inbox}, "files": {r[0]: r[1] for r in files}, "audit": {r[0]: r[1] for r in audit}}
    return {
        "inbox": Counter(counts["inbox"].get(e, 0) for e in event_ids),
        "files": Counter(counts["files"].get(a, 0) for a in ids),
        "audit": Counter(counts["audit"].get(a, 0) for a in ids),
    }


async def every_submitted_file_is_assessed_once(rig: Rig) -> int:
    """Wait for the outboxes to drain and the group to catch up; check every submitted file was applied exactly once.

    Returns how many `application submitted` records the stream carries more than once (the relay's repeats)."""
    dsn = rig.services.dsn

    async def drained() -> bool:
        outbox = await fetch(dsn, "select (select count(*) from intake.outbox) + (select count(*) from assessment.outbox) as n")
        return outbox[0]["n"] == 0

    await eventually(drained, timeout=RECOVERY, what="intake's and assessment's outboxes to drain")
    await caught_up(rig.services)
    submitted = {r["id"] for r in await fetch(dsn, "select id from intake.applications where status = 'submitted'")}
    wire = await submissions_on_the_wire(rig.services.kafka)
    assert submitted <= set(wire), f"{len(submitted - set(wire))} submitted files never reached the stream"
    assert all(len(set(wire[a])) == 1 for a in submitted), "intake published two different events for one submission"
    counts = await applied_once(dsn, {a: wire[a][0] for a in submitted})
    assert counts == {"inbox": {1: len(submitted)}, "files": {1: len(submitted)}, "audit": {1: len(submitted)}}
    return sum(len(wire[a]) - 1 for a in submitted)


# --- the faults ------------------------------------------------------------------------------------


OWNER = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-lefebvre"}


def application_withdrawn(application_id: UUID) -> ApplicationWithdrawn:
    """The applicant found a training course paid by France Travail and withdrew the file."""
    return new_event(
        ApplicationWithdrawn,
        source="/services/intake",
        subject=str(application_id),
        time=datetime.now(UTC),
        data=ApplicationWithdrawnData(
            **OWNER, application_id=application_id, reason="Formation financée par France Travail", withdrawn_by="c-lefebvre"
        ),
    )


def application_on(partition: int, partitions: list[int]) -> UUID:
    """A new application id whose events the default partitioner puts on `partition`."""
    while True:
        application_id = uuid4()
        if DefaultPartitioner()(str(application_id).encode(), partitions, partitions) == partition:
            return application_id


async def test_a_consumer_killed_in_the_middle_of_a_batch_applies_every_event_of_it_once_when_it_comes_back(rig: Rig) -> None:
    services = rig.services
    services.processes["assessment"].stop()
    # One fetch of six partitions: the first carries six files and the withdrawal of one of them, at its end;
    # the others one file each. The kill comes when the withdrawal is applied, before its transaction commits.
    producer = AIOKafkaProducer(**kafka_client(services.kafka), enable_idempotence=True)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(Topics.APPLICATIONS))
        crowded = [application_on(partitions[0], partitions) for _ in range(6)]
        alone = [application_on(p, partitions) for p in partitions[1:]]
        events: list[ApplicationSubmitted | ApplicationWithdrawn] = [application_submitted(a, owner=OWNER) for a in crowded + alone]
        events.append(application_withdrawn(crowded[0]))
        sent = [await producer.send(Topics.APPLICATIONS, e.to_bytes(), key=e.subject.encode()) for e in events]
        written = [await ack for ack in sent]
    finally:
        await producer.stop()
    where = {e.id: (m.partition, m.offset) for e, m in zip(events, written)}

    armed = services.restart("assessment", FAILPOINTS=f"before_commit:{ApplicationWithdrawn.event_type()}")

    async def died() -> bool:
        return armed.pid() is None

    await eventually(died, timeout=RECOVERY, what="assessment to be killed by its failpoint in the middle of a batch")
    assert f"failpoint before_commit:{ApplicationWithdrawn.event_type()} reached" in armed.log_file.read_text(errors="replace")
    claimed = {
        r[0] for r in await fetch(services.dsn, "select event_id from assessment.inbox where consumer = $1 and event_id = any($2)", GROUP, list(where))
    }
    # The transaction the kill cut committed nothing: not the withdrawal, nor the files before it in its partition.
    assert not claimed & {e.id for e in events if e.subject in {str(a) for a in crowded}}
    for event_id, (partition, offset) in where.items():
        if event_id not in claimed:  # not applied: its offset must not be committed, or it would be lost
            assert await services.committed_offset(GROUP, Topics.APPLICATIONS, partition) <= offset

    skipped_before = armed.log_file.read_text(errors="replace").count("already applied by assessment")
    restarting = time.monotonic()
    restarted = services.restart("assessment")
    await asyncio.to_thread(restarted.wait_ready, RECOVERY)
    for partition in {p for p, _ in where.values()}:
        last = max(o for p, o in where.values() if p == partition)
        await services.wait_committed_past(GROUP, Topics.APPLICATIONS, partition, last, timeout=RECOVERY)
    caught_up_in = time.monotonic() - restarting
    submitted = {e.data.application_id: e.id for e in events if isinstance(e, ApplicationSubmitted)}
    assert await applied_once(services.dsn, submitted) == {"inbox": {1: 11}, "files": {1: 11}, "audit": {1: 11}}
    withdrawal = events[-1]
    assert (await fetch(services.dsn, "select count(*) from assessment.inbox where consumer = $1 and event_id = $2", GROUP, withdrawal.id))[0][0] == 1
    assert [tuple(r) for r in await fetch(
        services.dsn,
        "select a.status, (select count(*) from assessment.assessment_audit l where l.application_id = a.application_id"
        " and l.action = 'file_withdrawn') from assessment.assessments a where a.application_id = $1",
        crowded[0],
    )] == [("withdrawn", 1)]
    skipped = restarted.log_file.read_text(errors="replace").count("already applied by assessment") - skipped_before
    print(f"\nkilled with {len(claimed)} of the fetch's {len(events)} events committed; {skipped} came again and were skipped;"
          f" the group caught up {caught_up_in:.1f} s after the restart")


async def test_files_submitted_before_during_and_after_a_broker_crash_are_each_assessed_once(rig: Rig) -> None:
    services = rig.services
    counsellors = Counsellors(services.urls["intake"])
    readiness = Readiness(services.urls)
    feeding, probing = asyncio.create_task(counsellors.run()), asyncio.create_task(readiness.run())
    try:
        await eventually(lambda: counsellors.filed(5), what="files submitted before the crash")
        rig.kill_broker()
        killed_at, before = time.monotonic(), len(counsellors.submitted)
        await eventually(lambda: counsellors.filed(before + 5), what="files submitted while the broker is down")

        async def waiting_in_the_outbox() -> bool:
            return (await fetch(services.dsn, "select count(*) from intake.outbox"))[0][0] > 0

        # Intake takes files without the broker: their events wait in its outbox.
        await eventually(waiting_in_the_outbox, what="the files' events to wait in intake's outbox")
        starting = time.monotonic()
        await asyncio.to_thread(rig.start_broker)
        back, after = time.monotonic(), len(counsellors.submitted)
        down_for, start_took = back - killed_at, back - starting
        await eventually(lambda: counsellors.filed(after + 5), what="files submitted after the broker came back")
    finally:
        counsellors.stop.set()
        if not rig.broker.status().running:
            rig.start_broker()
        await feeding
    await rig.wait_ready()
    readiness.stop.set()
    await probing
    # Ops saw it: both services said they were not ready while the broker was down, and are ready again.
    assert readiness.answers["intake 503"] and readiness.answers["assessment 503"], dict(readiness.answers)
    repeats = await every_submitted_file_is_assessed_once(rig)
    print(f"\nbroker down {down_for:.1f} s (its start {start_took:.1f} s), every file assessed once {time.monotonic() - back:.1f} s after it"
          f" was back; files {before} before, {after - before} during, {len(counsellors.submitted) - after} after;"
          f" repeated on the wire: {repeats}; intake answered {dict(counsellors.answers)}; /ready {dict(readiness.answers)}")


async def test_files_submitted_across_a_postgres_crash_are_each_assessed_once_and_the_services_recover_on_their_own(rig: Rig) -> None:
    services = rig.services
    counsellors = Counsellors(services.urls["intake"])
    readiness = Readiness(services.urls)
    feeding, probing = asyncio.create_task(counsellors.run()), asyncio.create_task(readiness.run())
    try:
        await eventually(lambda: counsellors.filed(5), what="files submitted before the crash")
        crashed_at, before = time.monotonic(), len(counsellors.submitted)
        await asyncio.to_thread(rig.crash_postgres)
        back = time.monotonic()
        # Nobody restarts the services: their pools reconnect, intake takes files again, both say they are ready.
        await eventually(lambda: counsellors.filed(before + 5), timeout=RECOVERY, what="intake to take files again")
        await rig.wait_ready()
        ready = time.monotonic()
    finally:
        counsellors.stop.set()
        await feeding
    readiness.stop.set()
    await probing
    repeats = await every_submitted_file_is_assessed_once(rig)
    print(f"\npostgres down {back - crashed_at:.1f} s (kill, crash recovery), services ready {ready - back:.1f} s after,"
          f" every file assessed once {time.monotonic() - back:.1f} s after; files {len(counsellors.submitted)};"
          f" repeated on the wire: {repeats}; intake answered {dict(counsellors.answers)}; /ready {dict(readiness.answers)}")
