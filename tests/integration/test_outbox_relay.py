"""The outbox relay on a real broker: in order per key, on the partition a plain send would use, traced only when the writer was."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from shared.broker import create_broker
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.events import PaymentMissed, parse_event
from shared.metrics import PlumbingMetrics
from shared.outbox import add_to_outbox
from shared.outbox_relay import OutboxRelay
from tests.integration.conftest import payment_missed
from tests.support.infra import kafka_client, kafka_login

pytestmark = pytest.mark.integration

SCHEMA = "relay_test"


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, SCHEMA)
    await migrate(pool, SCHEMA, [PLUMBING_MIGRATIONS])
    yield pool
    await pool.close()


@pytest.fixture
async def topic(kafka: str) -> str:
    """A topic of the test's own, with several partitions."""
    name = f"test.relay.{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**kafka_client(kafka))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()
    return name


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
async def broker(kafka: str, spans: tuple[TracerProvider, InMemorySpanExporter]) -> AsyncIterator[KafkaBroker]:
    broker = create_broker(kafka, client_id="relay-test", registry=CollectorRegistry(), login=kafka_login(kafka))
    await broker.start()
    yield broker
    await broker.stop()


async def records(kafka: str, topic: str) -> list:
    """Every record of `topic`, partition by partition."""
    consumer = AIOKafkaConsumer(**kafka_client(kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                found += batch
        return found
    finally:
        await consumer.stop()


async def test_the_relay_publishes_in_order_per_key_on_the_partition_of_a_plain_send_then_deletes(
    kafka: str, topic: str, pool: asyncpg.Pool, broker: KafkaBroker, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    loans = [uuid4() for _ in range(6)]
    # Thirty missed instalments, the loans interleaved, written by five transactions.
    events = [payment_missed(loans[i % 6], instalment_number=1 + i // 6, business_date=date(2026, 4, 6)) for i in range(30)]
    async with pool.acquire() as conn:
        for start in range(0, 30, 6):
            async with conn.transaction():
                await add_to_outbox(conn, *events[start:start + 6])
        await conn.execute("update outbox set topic = $1", topic)  # the events' class pins the loans topic
        relay = OutboxRelay(pool, broker, schema=SCHEMA, batch_size=1000, poll_seconds=1.0,
                            metrics=PlumbingMetrics.create(CollectorRegistry()), tracer_provider=spans[0])
        assert await relay.publish_pending(conn) == 30
        assert await conn.fetchval("select count(*) from outbox") == 0

    found = await records(kafka, topic)
    assert sorted(r.value for r in found) == sorted(e.to_bytes() for e in events)
    for loan in loans:
        mine = [r for r in found if r.key == str(loan).encode()]
        assert len({r.partition for r in mine}) == 1
        assert [parse_event(r.value).data.instalment_number for r in sorted(mine, key=lambda r: r.offset)] == [1, 2, 3, 4, 5]
    headers = dict(found[0].headers)
    assert headers["content-type"] == b"application/cloudevents+json"
    assert headers["ce-type"] == PaymentMissed.event_type().encode()
    assert "traceparent" not in headers  # written outside any trace: nothing to continue, no span
    assert spans[1].get_finished_spans() == ()

    # A plain send of the same key lands on the same partition.
    producer = AIOKafkaProducer(**kafka_client(kafka))
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"probe", key=str(loans[0]).encode())
    finally:
        await producer.stop()
    assert sent.partition == next(r.partition for r in found if r.key == str(loans[0]).encode())


async def test_rows_written_in_a_trace_are_published_under_a_producer_span_of_that_trace(
    kafka: str, topic: str, pool: asyncpg.Pool, broker: KafkaBroker, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    loan = uuid4()
    async with pool.acquire() as conn:
        with provider.get_tracer("test").start_as_current_span("POST /close-of-business") as request:
            trace_id = request.get_span_context().trace_id
            await add_to_outbox(conn, *(payment_missed(loan, instalment_number=n) for n in (1, 2, 3)))
        await add_to_outbox(conn, payment_missed(uuid4()))  # and one written outside any trace
        await conn.execute("update outbox set topic = $1", topic)
        stored = await conn.fetch("select headers from outbox order by id")
        relay = OutboxRelay(pool, broker, schema=SCHEMA, batch_size=1000, poll_seconds=1.0, tracer_provider=provider)
        assert await relay.publish_pending(conn) == 4

    assert json.loads(stored[0]["headers"])["traceparent"].split("-")[1] == f"{trace_id:032x}"
    assert json.loads(stored[3]["headers"]) == {}
    [publish] = [s for s in exporter.get_finished_spans() if s.name == f"{topic} publish"]
    assert publish.context.trace_id == trace_id and publish.parent.span_id == request.get_span_context().span_id
    assert publish.attributes["messaging.batch.message_count"] == 3
    found = await records(kafka, topic)
    traced = [dict(r.headers) for r in found if r.key == str(loan).encode()]
    assert {tuple(h["traceparent"].decode().split("-")[1:3]) for h in traced} == {(f"{trace_id:032x}", f"{publish.context.span_id:016x}")}
    assert [dict(r.headers).get("traceparent") for r in found if r.key != str(loan).encode()] == [None]
