"""What the platform's topics and consumer groups say: events produced in a time window, offsets committed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.kafka import local_client
from shared.events import Topics
from shared.events.envelope import EnvelopeHeader

PLATFORM_TOPICS: tuple[str, ...] = (Topics.APPLICATIONS, Topics.LOANS, Topics.ALERTS)
CONSUMER_GROUPS: tuple[str, ...] = ("intake", "assessment", "assessment-bank-decisions", "servicing", "notifications")
Offsets = dict[TopicPartition, int]


async def committed_offsets(admin: AIOKafkaAdminClient) -> dict[str, Offsets]:
    """Each consumer group's committed offsets (partitions without a commit are left out)."""
    groups: dict[str, Offsets] = {}
    for group in CONSUMER_GROUPS:
        offsets = await admin.list_consumer_group_offsets(group)
        groups[group] = {tp: om.offset for tp, om in offsets.items() if om.offset >= 0}
    return groups


def _caught_up(groups: Mapping[str, Offsets], ends: Offsets) -> bool:
    """True when every group committed up to the end of each partition of the topics it consumes."""
    for offsets in groups.values():
        topics = {tp.topic for tp in offsets}
        if any(offsets.get(tp, 0) < end for tp, end in ends.items() if tp.topic in topics):
            return False
    return True


async def wait_until_drained(
    consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient, partitions: list[TopicPartition], timeout: float
) -> bool:
    """Wait until the outboxes stop publishing and the consumer groups have committed everything."""
    deadline = time.monotonic() + timeout
    last: Offsets = {}
    stable_since = time.monotonic()
    while True:
        ends = await consumer.end_offsets(partitions)
        if ends != last:
            last, stable_since = ends, time.monotonic()
        if _caught_up(await committed_offsets(admin), ends) and time.monotonic() - stable_since >= 1.0:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def count_events(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], start_ms: int, end_ms: int
) -> dict[str, Counter[str]]:
    """Events on the platform topics with a record timestamp in [start_ms, end_ms]: source -> type -> count."""
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.offsets_for_times({tp: start_ms for tp in partitions})
    for tp in partitions:
        found = starts.get(tp)
        consumer.seek(tp, found.offset if found is not None else ends[tp])
    counts: dict[str, Counter[str]] = {}

    async def pending() -> list[TopicPartition]:
        return [tp for tp in partitions if await consumer.position(tp) < ends[tp]]

    while await pending():
        batch = await consumer.getmany(timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if record.offset < ends[tp] and start_ms <= record.timestamp <= end_ms:
                    header = EnvelopeHeader.model_validate_json(record.value)
                    counts.setdefault(header.source, Counter())[header.type] += 1
    return counts


class KafkaProbe:
    """A group-less consumer and an admin client on the platform's broker."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(**local_client(bootstrap), enable_auto_commit=False)
        self.admin = AIOKafkaAdminClient(**local_client(bootstrap))
        self.partitions: list[TopicPartition] = []

    async def start(self) -> None:
        """Connect and learn the platform topics' partitions."""
        await self.consumer.start()
        await self.admin.start()
        described = await self.admin.describe_topics(list(PLATFORM_TOPICS))
        self.partitions = [
            TopicPartition(t["topic"], p) for t in described for p in sorted(q["partition"] for q in t["partitions"])
        ]
        if not self.partitions:
            raise RuntimeError(f"none of the platform topics {PLATFORM_TOPICS} exists on the broker")
        self.consumer.assign(self.partitions)

    async def stop(self) -> None:
        """Disconnect."""
        await self.consumer.stop()
        await self.admin.close()
