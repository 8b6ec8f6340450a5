"""The outbox relay: publishes each service's outbox rows to Kafka in insertion order, then deletes them.

The rows are written with the state change that made them (`shared/outbox.py`), and the commit wakes the relay
of the writer's schema (`NOTIFY` on `outbox:<schema>`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import asyncpg
from aiokafka.partitioner import murmur2
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.state import RealProducer
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Tracer, TracerProvider

from shared.events.envelope import CONTENT_TYPE
from shared.metrics import PlumbingMetrics
from shared.outbox import NO_TRACE, NOTIFY_CHANNEL_PREFIX

log = logging.getLogger(__name__)

_BACKLOG_COUNT_PERIOD = 1.0  # seconds between two exact backlog counts while the relay is busy
_CONTENT_TYPE = CONTENT_TYPE.encode()
_ROWS_PER_SLICE = 250  # rows appended to the record batches between two turns of the event loop


@lru_cache(maxsize=65_536)
def _partition(key: bytes, partitions: tuple[int, ...]) -> int:
    """aiokafka's (and Java's) default partitioner: the partition a plain send() would pick for `key`.

    Cached: murmur2 is pure Python in aiokafka, and the events of one loan come together.
    """
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


def _kafka_producer(broker: KafkaBroker) -> Any | None:
    """The broker's aiokafka producer, or None (not started, or FastStream's in-memory test producer).

    Publishing through it directly, in record batches built per partition, costs a few microseconds per
    event instead of the tens a `broker.publish` call costs with its middlewares: what lets a close of
    business publish its 100,000+ events in seconds. FastStream keeps it behind private attributes
    (pinned by uv.lock); when they are not there the relay falls back to `broker.publish`.
    """
    state = getattr(broker.config.producer, "_producer", None)
    return state.producer if isinstance(state, RealProducer) else None


class OutboxRelay:
    """Publishes outbox rows in insertion order, then deletes them: at-least-once, ordered per key.

    One relay per schema is active at a time (a session advisory lock), so replicas of a service
    never publish the rows of one aggregate out of order. Each batch is sent at once: the rows of a
    partition go out in id order (idempotent producer), the relay waits for every acknowledgement,
    then deletes the batch in one statement. A row written with a trace context is published under a
    producer span that continues that trace (one span per topic and trace in a batch); a row without
    one costs no tracing at all.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: KafkaBroker,
        *,
        schema: str,
        batch_size: int,
        poll_seconds: float,
        metrics: PlumbingMetrics | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._schema = schema
        self._channel = f"{NOTIFY_CHANNEL_PREFIX}{schema}"
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._metrics = metrics
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_count = 0.0

    def start(self) -> None:
        """Run the relay in the background."""
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._schema}")

    async def stop(self) -> None:
        """Stop the relay; unpublished rows stay in the table for the next run."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as leader:
                    await self._lead(leader)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay for %s failed; retrying", self._schema)
                await asyncio.sleep(1.0)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        lock = f"outbox-relay:{self._schema}"
        while not await conn.fetchval("select pg_try_advisory_lock(hashtext($1))", lock):
            await asyncio.sleep(self._poll_seconds * 2)
        await conn.add_listener(self._channel, self._on_notify)
        try:
            while True:
                self._wake.clear()
                published = await self.publish_pending(conn)
                if published < self._batch_size:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                    except TimeoutError:
                        pass
        finally:
            if not conn.is_closed():  # a connection the database dropped took its listener and lock with it
                await conn.remove_listener(self._channel, self._on_notify)
                await conn.execute("select pg_advisory_unlock(hashtext($1))", lock)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of pending rows; return how many were published."""
        rows = await conn.fetch(
            "select id, topic, key, event_type, event_id, payload, headers::text as headers"
            " from outbox order by id limit $1",
            self._batch_size,
        )
        await self._report_backlog(conn, len(rows))
        if not rows:
            return 0
        producer = _kafka_producer(self._broker)
        if producer is None:
            await self._publish_each(rows)
        else:
            await self._publish_batched(producer, rows)
        await conn.execute("delete from outbox where id = any($1::bigint[])", [r["id"] for r in rows])
        if self._metrics is not None:
            for topic, count in Counter(r["topic"] for r in rows).items():
                self._metrics.outbox_published.labels(topic).inc(count)
            self._metrics.outbox_backlog.dec(len(rows))
        return len(rows)

    async def _report_backlog(self, conn: asyncpg.Connection, fetched: int) -> None:
        if self._metrics is None:
            return
        if fetched < self._batch_size:
            self._metrics.outbox_backlog.set(fetched)
        elif time.monotonic() - self._last_count >= _BACKLOG_COUNT_PERIOD:
            # Counting a large backlog costs a scan: at most once a second while the relay is busy.
            self._last_count = time.monotonic()
            self._metrics.outbox_backlog.set(await conn.fetchval("select count(*) from outbox"))

    async def _publish_each(self, rows: Sequence[asyncpg.Record]) -> None:
        """One `broker.publish` per row: for brokers without an aiokafka producer (FastStream's test broker)."""
        spans: dict[tuple[str, str], _TracedGroup] = {}
        futures = []
        try:
            for row in rows:
                headers = {"content-type": CONTENT_TYPE, "ce-type": row["event_type"]}
                if row["headers"] != NO_TRACE:
                    headers |= {k: v.decode() for k, v in self._trace(self._tracer, spans, row["topic"], row["headers"])}
                futures.append(
                    await self._broker.publish(
                        bytes(row["payload"]),
                        topic=row["topic"],
                        key=row["key"].encode(),
                        headers=headers,
                        correlation_id=str(row["event_id"]),
                        no_confirm=True,
                    )
                )
            await asyncio.gather(*futures)
        finally:
            for group in spans.values():
                group.span.set_attribute("messaging.batch.message_count", group.count)
                group.span.end()

    async def _publish_batched(self, producer: Any, rows: Sequence[asyncpg.Record]) -> None:
        """Append the rows to one record batch per partition, in id order, send them all, wait for every ack."""
        tracer = self._tracer
        partitions: dict[str, tuple[int, ...]] = {}
        spans: dict[tuple[str, str], _TracedGroup] = {}
        open_batches: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        try:
            for i, row in enumerate(rows):
                if i and i % _ROWS_PER_SLICE == 0:
                    # Building a batch of thousands of rows takes tens of milliseconds of this process's event
                    # loop: let the other tasks (a request, a close of business waiting on its next statement) in.
                    await asyncio.sleep(0)
                topic, key = row["topic"], row["key"].encode()
                if topic not in partitions:
                    partitions[topic] = tuple(sorted(await producer.partitions_for(topic)))
                partition = _partition(key, partitions[topic])
                headers = [
                    ("content-type", _CONTENT_TYPE),
                    ("ce-type", row["event_type"].encode()),
                    ("correlation_id", str(row["event_id"]).encode()),
                ]
                if row["headers"] != NO_TRACE:
                    headers += self._trace(tracer, spans, topic, row["headers"])
                batch = open_batches.get((topic, partition))
                if batch is None or batch.append(key=key, value=bytes(row["payload"]), timestamp=None, headers=headers) is None:
                    if batch is not None:
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = open_batches[(topic, partition)] = producer.create_batch()
                    batch.append(key=key, value=bytes(row["payload"]), timestamp=None, headers=headers)
            for (topic, partition), batch in open_batches.items():
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*futures)
        except BaseException as exc:
            for group in spans.values():
                group.span.record_exception(exc)
                group.span.set_status(trace.StatusCode.ERROR)
            raise
        finally:
            for group in spans.values():
                group.span.set_attribute("messaging.batch.message_count", group.count)
                group.span.end()

    @staticmethod
    def _trace(tracer: Tracer, spans: dict[tuple[str, str], _TracedGroup], topic: str, carrier: str) -> list[tuple[str, bytes]]:
        """Kafka headers continuing the writer's trace through one producer span per topic and trace."""
        group = spans.get((topic, carrier))
        if group is None:
            span = tracer.start_span(
                f"{topic} publish",
                context=propagate.extract(json.loads(carrier)),
                kind=SpanKind.PRODUCER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": topic, "messaging.operation": "publish"},
            )
            injected: dict[str, str] = {}
            propagate.inject(injected, context=trace.set_span_in_context(span))
            group = spans[(topic, carrier)] = _TracedGroup(span, [(k, v.encode()) for k, v in injected.items()])
        group.count += 1
        return group.headers


class _TracedGroup:
    """The producer span of the rows of one topic written under one trace context, in one batch."""

    __slots__ = ("count", "headers", "span")

    def __init__(self, span: trace.Span, headers: list[tuple[str, bytes]]) -> None:
        self.span = span
        self.headers = headers
        self.count = 0
