"""The raw ceilings the close-of-business benchmark prints beside its figure, measured in the same run.

However the close of business computes them, its events must be written to Postgres and produced to Kafka:
- Postgres: COPY of as many rows of the outbox's shape (same indexes, logged, one commit);
- Kafka: as many records of the same size produced with aiokafka's batch API (idempotent, acks=all, as
  the relay's producer) to a topic of its own with the loans topic's partition count, every ack awaited.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local.kafka import local_client
from bench.portfolio_sql import SCHEMA
from deploy.local.topics import DEFAULT_PARTITIONS
from shared.events import PaymentMissed, PaymentMissedData, new_event

CEILING_TOPIC = "bench.cob-ceiling"


def sample_event() -> bytes:
    """A `payment missed` as the run writes them (most of its events), for the size of a row and a record."""
    loan_id = uuid.uuid4()
    return new_event(
        PaymentMissed, source="/services/servicing", subject=str(loan_id), time=datetime.now(UTC),
        data=PaymentMissedData(
            association_id="secours-catholique", region="auvergne-rhone-alpes", counsellor_id="c-secours-catholique-217",
            loan_id=loan_id, application_id=uuid.uuid4(), instalment_number=14, due_date=date(2026, 11, 5),
            amount_due_cents=11_083, amount_unpaid_cents=11_083, business_date=date(2026, 11, 30),
        ),
    ).to_bytes()


async def copy_seconds(pool: asyncpg.Pool, rows: int, payload: bytes) -> float:
    """Seconds to COPY `rows` outbox rows of `payload`'s size into a copy of the outbox table and commit."""
    records = [
        (uuid.uuid4(), PaymentMissed.event_type(), PaymentMissed.topic, str(uuid.uuid4()), payload, "{}")
        for _ in range(rows)
    ]
    async with pool.acquire() as conn:
        await conn.execute(f"drop table if exists bench.ceiling_outbox; create table bench.ceiling_outbox (like {SCHEMA}.outbox including all)")
        try:
            started = time.monotonic()
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "ceiling_outbox", schema_name="bench", records=records,
                    columns=["event_id", "event_type", "topic", "key", "payload", "headers"],
                )
            return time.monotonic() - started
        finally:
            await conn.execute("drop table bench.ceiling_outbox")


async def produce_seconds(bootstrap: str, rows: int, payload: bytes, state_dir: Path | None = None) -> float:
    """Seconds to produce `rows` records of `payload`'s size, keyed like loans, and have every one acknowledged
    (as the admin of the broker of `state_dir`, by default the platform's)."""
    admin = AIOKafkaAdminClient(**local_client(bootstrap, state_dir))
    await admin.start()
    try:
        if CEILING_TOPIC in await admin.list_topics():
            await admin.delete_topics([CEILING_TOPIC])
            await asyncio.sleep(1)
        await admin.create_topics([NewTopic(CEILING_TOPIC, num_partitions=DEFAULT_PARTITIONS, replication_factor=1)])
        producer = AIOKafkaProducer(**local_client(bootstrap, state_dir), acks="all", enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            partitions = sorted(await producer.partitions_for(CEILING_TOPIC))
            keys = [str(uuid.uuid4()).encode() for _ in range(rows)]
            started = time.monotonic()
            futures = []
            batches = {p: producer.create_batch() for p in partitions}
            for n, key in enumerate(keys):
                partition = partitions[n % len(partitions)]
                if batches[partition].append(key=key, value=payload, timestamp=None) is None:
                    futures.append(await producer.send_batch(batches[partition], CEILING_TOPIC, partition=partition))
                    batches[partition] = producer.create_batch()
                    batches[partition].append(key=key, value=payload, timestamp=None)
            for partition, batch in batches.items():
                futures.append(await producer.send_batch(batch, CEILING_TOPIC, partition=partition))
            await asyncio.gather(*futures)
            return time.monotonic() - started
        finally:
            await producer.stop()
    finally:
        try:
            await admin.delete_topics([CEILING_TOPIC])
        finally:
            await admin.close()
