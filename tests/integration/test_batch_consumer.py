"""A consumer applies a fetch in batches on the real database: one transaction per partition's records, in offset
order per key; a record at fault is found by splitting the batch and alone is dead-lettered, parked or retried;
the same event twice applies once; the outbox rows of the batch are written with it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry

from shared.clock import FixedClock
from shared.consumer import BatchSettings, EventConsumer, EventRejected, EventTooEarly, PoolHolder, Record, RetryPolicy
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.events import LoanApproved, LoanApprovedData, LoanDisbursed, LoanDisbursedData, Topics, new_event
from shared.failpoints import Failpoints
from shared.metrics import TRANSACTION_PHASES, OperationsMetrics
from shared.outbox import add_to_outbox
from tests.integration.conftest import NOW

pytestmark = pytest.mark.integration

SCHEMA = "batching"
GROUP = "batching-test"


@dataclass
class PublishedDeadLetters:
    """The broker side of the consumer: what it sent to the dead-letter topic."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def publish(self, body: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        self.sent.append({"topic": topic, "key": key, "reason": headers["dlq-reason"], "offset": int(headers["dlq-original-offset"])})


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, SCHEMA)
    await migrate(pool, SCHEMA, [PLUMBING_MIGRATIONS])
    await pool.execute("create table applied (seq bigint generated always as identity, key text, months int)")
    try:
        yield pool
    finally:
        await pool.close()


def approval(application_id: UUID, months: int) -> LoanApproved:
    """A bank approval; the test's handler reads its duration as an instruction."""
    return new_event(
        LoanApproved, source="/services/assessment", subject=str(application_id), time=NOW,
        data=LoanApprovedData(
            association_id="secours-catholique", region="hauts-de-france", counsellor_id="c-lefebvre",
            application_id=application_id, bank_id="credit-mutuel-nord", amount_cents=300_000,
            annual_rate=Decimal("0.035"), duration_months=months, first_due_date=date(2026, 4, 5),
        ),
    )


def record(event: LoanApproved, partition: int, offset: int) -> Record:
    return Record(Topics.APPLICATIONS, partition, offset, event.subject.encode(), event.to_bytes(), {"ce-type": event.type})


async def test_a_batch_applies_in_order_and_only_the_record_at_fault_is_dead_lettered_or_parked(pool: asyncpg.Pool) -> None:
    unexpected_calls = 0

    async def handler(conn: asyncpg.Connection, event: LoanApproved) -> None:
        nonlocal unexpected_calls
        months = event.data.duration_months
        await conn.execute("insert into applied (key, months) values ($1, $2)", event.subject, months)
        if months == 6:
            raise EventRejected("six months is refused here")
        if months == 7:
            raise EventTooEarly("waiting for the disbursement")
        if months == 8:
            unexpected_calls += 1
            raise RuntimeError("a bug in the handler")
        await add_to_outbox(conn, new_event(
            LoanDisbursed, source="/services/servicing", subject=event.subject, time=NOW,
            data=LoanDisbursedData(
                association_id="secours-catholique", region="hauts-de-france", counsellor_id="c-lefebvre",
                loan_id=event.data.application_id, application_id=event.data.application_id,
                amount_cents=300_000, disbursed_on=date(2026, 3, 2), payee="Garage Dupont",
            ),
        ))

    broker = PublishedDeadLetters()
    holder = PoolHolder()
    holder.pool = pool
    consumer = EventConsumer(
        broker, holder, GROUP, {LoanApproved.event_type(): handler}, clock=FixedClock(NOW), failpoints=Failpoints(""),  # type: ignore[arg-type]
        retry=RetryPolicy(first_delay=0.001, max_delay=0.001), batching=BatchSettings(),
    )
    a, b, early = uuid4(), uuid4(), uuid4()
    already = approval(a, 9)
    await consumer.apply_partition([record(already, 0, 0)])  # applied in an earlier batch
    twice = approval(b, 10)
    batch = [
        record(approval(a, 12), 0, 1),
        record(approval(b, 6), 0, 2),  # refused: dead-lettered
        record(already, 0, 3),  # delivered again: skipped
        record(twice, 0, 4),
        record(twice, 0, 5),  # the same event twice in one batch: applied once
        record(approval(early, 7), 0, 6),  # too early: parked
        record(approval(early, 24), 0, 7),  # same key: parked behind it
        record(approval(a, 8), 0, 8),  # fails every time: dead-lettered after its attempts
        record(approval(a, 36), 0, 9),
    ]

    applied = await consumer.apply_partition(batch)

    assert applied == 3
    rows = await pool.fetch("select key, months from applied order by seq")
    assert [(r["key"], r["months"]) for r in rows] == [(str(a), 9), (str(a), 12), (str(b), 10), (str(a), 36)]
    assert [(d["offset"], d["reason"]) for d in broker.sent] == [
        (2, f"rejected {LoanApproved.event_type()}: six months is refused here"),
        (8, f"handler failed on {LoanApproved.event_type()}: RuntimeError('a bug in the handler')"),
    ]
    assert unexpected_calls == 2 + 3  # met in two halves while the split narrowed down, then tried alone three times
    parked = await pool.fetch("select kafka_offset, reason from parked_events where consumer = $1 order by id", GROUP)
    assert [(p["kafka_offset"], p["reason"]) for p in parked] == [
        (6, "waiting for the disbursement"), (7, "behind an earlier parked event of the same key"),
    ]
    assert await pool.fetchval("select count(*) from inbox where consumer = $1", GROUP) == 4
    outbox = await pool.fetch("select key from outbox order by id")
    assert [o["key"] for o in outbox] == [str(a), str(a), str(b), str(a)]


async def test_ops_see_where_a_fetch_spent_its_time_from_kafka_to_the_commit(pool: asyncpg.Pool) -> None:
    async def handler(conn: asyncpg.Connection, event: LoanApproved) -> None:
        await conn.execute("insert into applied (key, months) values ($1, $2)", event.subject, event.data.duration_months)

    registry = CollectorRegistry()
    holder = PoolHolder()
    holder.pool = pool
    consumer = EventConsumer(
        PublishedDeadLetters(), holder, GROUP, {LoanApproved.event_type(): handler}, clock=FixedClock(NOW),  # type: ignore[arg-type]
        failpoints=Failpoints(""), operations=OperationsMetrics.create(registry),
    )
    written_ms = int(time.time() * 1000) - 1500  # the records waited a second and a half in Kafka
    approvals = [approval(uuid4(), 12) for _ in range(3)]
    fetch = SimpleNamespace(consumer=None, raw_message=[
        ConsumerRecord(Topics.APPLICATIONS, partition, offset, written_ms, 0, event.subject.encode(), event.to_bytes(),
                       None, 36, len(event.to_bytes()), [("ce-type", event.type.encode())])
        for offset, (partition, event) in enumerate(zip((0, 0, 1), approvals, strict=True))
    ])

    started = time.perf_counter()
    await consumer.on_batch(fetch)
    elapsed = time.perf_counter() - started

    assert await pool.fetchval("select count(*) from applied") == 3

    def sample(name: str, **labels: str) -> float:
        value = registry.get_sample_value(name, {"group": GROUP, **labels})
        assert value is not None, f"{name} {labels}"
        return value

    # Two partitions: two transactions, each timed phase by phase, the phases within the time the fetch took.
    phases = "microcredit_consumer_transaction_phase_seconds"
    assert [sample(f"{phases}_count", phase=p) for p in TRANSACTION_PHASES] == [2.0] * 5
    assert 0 < sum(sample(f"{phases}_sum", phase=p) for p in TRANSACTION_PHASES) <= 2 * elapsed
    # Each record: from its Kafka timestamp to the start of its fetch.
    delay = "microcredit_consumer_fetch_delay_seconds"
    assert sample(f"{delay}_count") == 3.0
    assert 3 * 1.5 <= sample(f"{delay}_sum") <= 3 * (1.5 + elapsed + 1.0)
    assert sample(f"{delay}_bucket", le="1.0") == 0.0
