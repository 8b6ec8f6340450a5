"""The key-encryption key every service the tests start is given (`<SERVICE>_PRIVACY_KEK`): one for the whole session.

Fixed rather than random: a test database kept across runs still holds data keys it wrapped. A test key, worth nothing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer

from shared.events import EVENT_CLASSES, Envelope
from shared.events.personal import personal_fields
from shared.privacy.keyring import KeyRing
from shared.privacy.sealing import Opener
from tests.support.infra import kafka_client

EventT = TypeVar("EventT", bound=Envelope[Any])

TEST_KEK_BYTES = hashlib.sha256(b"microcredit tests: the key-encryption key of the data keys").digest()
TEST_KEK = base64.b64encode(TEST_KEK_BYTES).decode()
PRIVACY_ENV = {"PRIVACY_KEK": TEST_KEK}


async def opened(dsn: str, events: Sequence[EventT]) -> list[EventT]:
    """`events` with every personal field opened with the test KEK's keyring, as a reader granted them all would see them."""
    everything = {cls: personal_fields(cls) for cls in EVENT_CLASSES if personal_fields(cls)}
    conn = await asyncpg.connect(dsn)
    try:
        return await Opener(KeyRing(TEST_KEK_BYTES), everything).open(conn, events)
    finally:
        await conn.close()


async def records_of(kafka: str, topic: str, key: bytes) -> list[bytes]:
    """Every record of `topic` under `key`, read from the start, raw."""
    consumer = AIOKafkaConsumer(topic, **kafka_client(kafka), auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[bytes] = []
    try:
        for _ in range(40):
            batches = await consumer.getmany(timeout_ms=500)
            found += [r.value for records in batches.values() for r in records if r.key == key]
            if found and not batches:
                return found
        return found
    finally:
        await consumer.stop()
