"""Paced offset commits (`shared.offset_commits`): what a group commits never goes back."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.offset_commits import PacedCommits

TOPIC = "microcredit.applications.v1"
P0 = TopicPartition(TOPIC, 0)


class SlowCoordinator(AIOKafkaConsumer):  # type: ignore[misc]
    """A consumer whose first commit hangs until `answer` is set (a broker that went away), the others pass at once."""

    def __init__(self) -> None:  # no connection: only commit and assignment are used
        self.answer = asyncio.Event()
        self.landed: list[dict[TopicPartition, int]] = []  # what the group's offsets became, in order
        self.calls = 0

    def assignment(self) -> set[TopicPartition]:
        return {P0}

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        self.calls += 1
        if self.calls == 1:
            await self.answer.wait()
        assert offsets is not None
        self.landed.append(dict(offsets))


def fetch(consumer: AIOKafkaConsumer, *offsets: int) -> SimpleNamespace:
    """A fetch of partition 0 as FastStream hands it over."""
    records = [SimpleNamespace(topic=TOPIC, partition=0, offset=o) for o in offsets]
    return SimpleNamespace(raw_message=records, consumer=consumer, committed=None)


async def test_a_commit_held_up_by_the_broker_does_not_land_after_a_newer_one() -> None:
    consumer = SlowCoordinator()
    commits = PacedCommits("assessment", interval_seconds=60)
    commits.applied(fetch(consumer, 1))
    first = asyncio.create_task(commits.flush())  # {p0: 2} sent, no answer: the broker is away
    await asyncio.sleep(0)
    commits.applied(fetch(consumer, *range(2, 11)))
    second = asyncio.create_task(commits.flush())  # the group rebalances: what it applied since is committed too
    await asyncio.sleep(0.05)
    consumer.answer.set()  # the broker is back: the first commit lands, then the second
    await asyncio.gather(first, second)
    assert consumer.landed == [{P0: 2}, {P0: 11}]
    await commits.stop()


async def test_a_service_stopping_while_the_broker_is_away_does_not_wait_for_ever() -> None:
    consumer = SlowCoordinator()
    commits = PacedCommits("assessment", interval_seconds=60)
    commits.applied(fetch(consumer, 7))
    await asyncio.wait_for(commits.stop(timeout=0.2), 5)
    assert consumer.landed == []  # not committed: record 7 comes again after the restart, and the inbox skips it
