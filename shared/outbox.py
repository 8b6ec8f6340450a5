"""Transactional outbox: events stored with the state change, published by a relay afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from opentelemetry import propagate

from shared.events.envelope import CONTENT_TYPE, Envelope
from shared.metrics import PlumbingMetrics

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox"


async def add_to_outbox(conn: asyncpg.Connection, *events: Envelope[Any]) -> None:
    """Store events in the caller's transaction, with the current trace context to resume later."""
    if not events:
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers = json.dumps(carrier)
    await conn.executemany(
        "insert into outbox (event_id, event_type, topic, key, payload, headers)"
        " values ($1, $2, $3, $4, $5, $6::jsonb)",
        [(e.id, e.type, e.topic, e.subject, e.to_bytes(), headers) for e in events],
    )
    # Delivered at commit only, and collapsed to one per transaction by Postgres.
    await conn.execute("select pg_notify($1, '')", NOTIFY_CHANNEL)


class OutboxRelay:
    """Publishes outbox rows in insertion order, then deletes them: at-least-once, ordered per key.

    One relay per schema is active at a time (a session advisory lock), so replicas of a service
    never publish the rows of one aggregate out of order.
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
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._schema = schema
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
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
            await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            await conn.execute("select pg_advisory_unlock(hashtext($1))", lock)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of pending rows; return how many were published."""
        rows = await conn.fetch(
            "select id, topic, key, event_type, payload, headers from outbox order by id limit $1",
            self._batch_size,
        )
        if self._metrics is not None:
            backlog = len(rows) if len(rows) < self._batch_size else await conn.fetchval("select count(*) from outbox")
            self._metrics.outbox_backlog.set(backlog)
        if not rows:
            return 0
        futures = []
        for row in rows:
            carrier = json.loads(row["headers"])
            # Resume the trace of the request that wrote the row, so the Kafka hop joins it.
            token = otel_context.attach(propagate.extract(carrier))
            try:
                futures.append(
                    await self._broker.publish(
                        bytes(row["payload"]),
                        topic=row["topic"],
                        key=row["key"].encode(),
                        headers={"content-type": CONTENT_TYPE, "ce-type": row["event_type"]},
                        no_confirm=True,
                    )
                )
            finally:
                otel_context.detach(token)
        await asyncio.gather(*futures)
        await conn.execute("delete from outbox where id = any($1::bigint[])", [r["id"] for r in rows])
        if self._metrics is not None:
            for row in rows:
                self._metrics.outbox_published.labels(row["topic"]).inc()
            self._metrics.outbox_backlog.dec(len(rows))
        return len(rows)
