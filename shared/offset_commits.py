"""Offset commits paced per consumer group: what a group applied is committed at most once per interval.

FastStream commits after every fetch. When events come one at a time (a journey's hops), every fetch holds
one record, so every event cost each group reading it an offset commit: a request the consumer waits for
before its next fetch, and a write of the broker's `__consumer_offsets` log. Here a group records the
offsets of each fetch it applied and commits them, explicitly, once the interval has passed since the
first of them; a busy group commits a few times a second, an idle one right after its last event.

Nothing is committed that was not applied: the offsets are those of fetches whose transactions committed,
never the consumer's position (which may already be past a fetch being applied). A crash before the commit
only brings those records again, and the inbox skips them: at-least-once on the wire, once in effect.
When the group rebalances, what was applied is committed before the partitions go (`listener`), and an offset
recorded for a partition this replica no longer holds is dropped: it never commits over another replica's.
A group has one commit in flight at a time: aiokafka retries a commit until the coordinator answers, and an older
commit landing after a newer one would move the group's offset back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError
from faststream.kafka.annotations import KafkaMessage
from faststream.message import AckStatus

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0  # after a failed commit (a broker away for a while logs once a second per group, not ten times)


class PacedCommits:
    """The offsets one consumer group applied, waiting for their commit."""

    def __init__(self, group_id: str, interval_seconds: float) -> None:
        self.group_id = group_id
        self.interval = interval_seconds
        self._pending: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._timer: asyncio.Task[None] | None = None
        self._committing = asyncio.Lock()  # one commit in flight (see the module's docstring)

    def applied(self, message: KafkaMessage) -> None:
        """The fetch `message` is applied: its records' offsets are committed with the next commit, not now.

        With a zero interval (or FastStream's in-memory test broker, whose consumer commits nothing), FastStream
        acknowledges the fetch itself, at once, as it would without this.
        """
        consumer = getattr(message, "consumer", None)
        if self.paced(consumer):
            self.passed(consumer, message.raw_message)
            message.committed = AckStatus.ACKED  # FastStream's acknowledgement then commits nothing itself

    def paced(self, consumer: object) -> bool:
        """Whether this group commits `consumer`'s offsets itself (a real consumer and an interval)."""
        return self.interval > 0 and isinstance(consumer, AIOKafkaConsumer)

    def passed(self, consumer: AIOKafkaConsumer, records: Iterable[ConsumerRecord]) -> None:
        """The group is done with `records` (applied, or none of them for it): committed with the next commit."""
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self._pending[tp] = max(self._pending.get(tp, 0), record.offset + 1)
        self._consumer = consumer
        self._commit_soon()

    def _commit_soon(self, delay: float | None = None) -> None:
        if self._timer is None:
            self._timer = asyncio.create_task(self._commit_later(self.interval if delay is None else delay), name=f"{self.group_id}-offset-commit")

    async def _commit_later(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            self._timer = None
        await self.flush()

    async def flush(self) -> None:
        """Commit what was applied and not committed yet (the partitions this replica still holds).

        A flush waits for the commit in flight, then takes what is pending then: commits land in the order their
        offsets were applied.
        """
        async with self._committing:
            await self._flush()

    async def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        consumer = self._consumer
        if not pending or consumer is None:
            return
        held = consumer.assignment()
        # A partition handed to another replica meanwhile is that replica's to commit: it starts again from the last
        # committed offset, and its inbox skips what this replica applied.
        offsets = {tp: offset for tp, offset in pending.items() if tp in held}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except ConsumerStoppedError:  # the service is stopping: the records come again after its restart
            log.warning("offset commit of %s dropped, its consumer stopped: its records will be delivered again", self.group_id)
        except KafkaError as exc:  # a rebalance, the coordinator away: tried again a second later, or with the next fetch
            log.warning("offset commit of %s failed, tried again: %r", self.group_id, exc)
            for tp, offset in offsets.items():
                self._pending[tp] = max(self._pending.get(tp, 0), offset)
            self._commit_soon(_RETRY_SECONDS)

    def listener(self) -> ConsumerRebalanceListener:
        """What the consumer calls when its group rebalances (`broker.subscriber(..., listener=...)`)."""
        return _CommitBeforeRebalance(self)

    def keep_only(self, held: set[TopicPartition]) -> None:
        """Forget the offsets of partitions this replica no longer holds (a fetch applied while they were handed over)."""
        self._pending = {tp: offset for tp, offset in self._pending.items() if tp in held}

    async def stop(self, timeout: float = 5.0) -> None:
        """Commit what is pending now (a service stopping), without waiting for the interval.

        With the broker away, aiokafka would retry the commit for ever: after `timeout` the service stops anyway,
        and the records applied since the last commit come again after its restart (the inbox skips them).
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except TimeoutError:
            log.warning("offset commit of %s not done within %.0f s at shutdown: its last records will be delivered again",
                        self.group_id, timeout)


class _CommitBeforeRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what was applied before the group takes the partitions back; keeps only the partitions given again."""

    def __init__(self, commits: PacedCommits) -> None:
        self._commits = commits

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """The partitions are about to go: their applied offsets are committed now, not after the interval."""
        await self._commits.flush()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """An offset recorded meanwhile for a partition that went to another replica is that replica's business."""
        self._commits.keep_only(set(assigned))
