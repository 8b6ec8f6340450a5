"""Consumers that wait for records instead of polling for them.

FastStream's batch subscriber asks aiokafka for records with a timeout and, when none came, sleeps as long
again before it asks anew. With a short timeout an idle consumer wakes hundreds of times a second (most
of an idle service's CPU); with a long one a record that arrives during the sleep waits for its end.

aiokafka's `getmany(timeout_ms=…)` already returns as soon as a fetch brings records (its fetcher keeps
a long-poll fetch open on the broker), so the sleep buys nothing: this subscriber asks again at once.
The timeout is then only how often an idle consumer's loop turns, not a delay any record waits.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING

from faststream.kafka.subscriber.usecase import BatchSubscriber

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord


class LongPollBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber without the sleep after an empty fetch."""

    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord, ...]:
        """What one fetch brought: returns as soon as records arrive, or empty after the timeout."""
        fetched = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
        return tuple(chain.from_iterable(fetched.values()))


def long_poll(subscriber: object) -> LongPollBatchSubscriber:
    """Make the batch subscriber `broker.subscriber(..., batch=True)` returned wait for records instead of polling.

    FastStream builds the subscriber itself; it has no hook for the class, so the instance's class is
    swapped for this subclass (same slots, only `get_msg` differs) before the broker starts it.
    """
    if type(subscriber) is not BatchSubscriber:
        raise TypeError(f"expected FastStream's BatchSubscriber, got {type(subscriber).__name__}")
    subscriber.__class__ = LongPollBatchSubscriber
    return subscriber
