"""The raw ceilings a consumer's figures are read against, measured on the running platform's own Postgres and Kafka.

- Postgres: what one consumed event costs the database at least — an inbox claim, a state upsert, an
  outbox row (a real event's size) and `pg_notify` — one event per transaction on 8 connections, then 100
  events per transaction; in a scratch schema (the services' own `shared/sql/001_outbox_inbox.sql` tables)
  dropped afterwards, on a channel no relay listens to.
- Kafka: aiokafka reading given records under a fresh consumer group, committing after each fetched batch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.local.kafka import local_client
from shared.db import PLUMBING_MIGRATIONS

SCHEMA = "bench_ceiling"
CHANNEL = "bench_ceiling"  # no relay listens here
PAYLOAD = b'{"specversion": "1.0", "type": "fr.microcredit.alert.raised.v1", "data": {"message": "' + b"x" * 600 + b'"}}'


async def _scratch(dsn: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=8, max_size=8, server_settings={"search_path": SCHEMA})
    async with pool.acquire() as conn:
        await conn.execute(f"drop schema if exists {SCHEMA} cascade; create schema {SCHEMA}")
        await conn.execute((PLUMBING_MIGRATIONS / "001_outbox_inbox.sql").read_text())
        await conn.execute("create table state (id uuid primary key, version integer not null, body jsonb not null)")
    return pool


async def _events(conn: asyncpg.Connection, count: int) -> None:
    """Apply `count` events in one transaction, as a consumer would: inbox, state, outbox, notify."""
    ids = [uuid.uuid4() for _ in range(count)]
    async with conn.transaction():
        if count == 1:
            await conn.fetchval(
                "insert into inbox (consumer, event_id, event_type) values ('bench', $1, 'bench') on conflict do nothing returning true",
                ids[0],
            )
            await conn.execute(
                "insert into state (id, version, body) values ($1, 1, '{\"status\": \"open\"}')"
                " on conflict (id) do update set version = state.version + 1", ids[0],
            )
            await conn.execute(
                "insert into outbox (event_id, event_type, topic, key, payload) values ($1, 'bench', 'bench', $2, $3)",
                ids[0], str(ids[0]), PAYLOAD,
            )
        else:
            await conn.executemany(
                "insert into inbox (consumer, event_id, event_type) values ('bench', $1, 'bench') on conflict do nothing", [(i,) for i in ids]
            )
            await conn.executemany(
                "insert into state (id, version, body) values ($1, 1, '{\"status\": \"open\"}')"
                " on conflict (id) do update set version = state.version + 1", [(i,) for i in ids],
            )
            await conn.executemany(
                "insert into outbox (event_id, event_type, topic, key, payload) values ($1, 'bench', 'bench', $2, $3)",
                [(i, str(i), PAYLOAD) for i in ids],
            )
        await conn.execute("select pg_notify($1, '')", CHANNEL)


async def postgres_ceiling(dsn: str, *, per_transaction: int, events: int, connections: int = 8) -> float:
    """Events per second applied in transactions of `per_transaction` events on `connections` connections."""
    pool = await _scratch(dsn)
    try:
        transactions = max(connections, events // per_transaction)
        left = iter(range(transactions))

        async def worker() -> None:
            async with pool.acquire() as conn:
                for _ in left:
                    await _events(conn, per_transaction)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return transactions * per_transaction / (time.perf_counter() - began)
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"drop schema if exists {SCHEMA} cascade")
        await pool.close()


async def kafka_consume_ceiling(bootstrap: str, ranges: Mapping[TopicPartition, tuple[int, int]]) -> float:
    """Records per second read from `ranges` (partition → [first, end) offsets) by a fresh group committing per batch."""
    group = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(**local_client(bootstrap), group_id=group, enable_auto_commit=False)
    await consumer.start()
    total = sum(end - first for first, end in ranges.values())
    try:
        consumer.assign(list(ranges))
        for tp, (first, _) in ranges.items():
            consumer.seek(tp, first)
        seen = 0
        began = time.perf_counter()
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(1 for tp, records in batch.items() for r in records if r.offset < ranges[tp][1])
            await consumer.commit()
        return total / (time.perf_counter() - began)
    finally:
        await consumer.stop()  # the group, empty now, expires with the broker's offsets retention
