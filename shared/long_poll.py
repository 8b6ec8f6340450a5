"""Consumers that wait for records instead of polling for them.

FastStream's batch subscriber asks aiokafka for records with a timeout and, when none came, sleeps as long
again before it asks anew. With a short timeout an idle consumer wakes hundreds of times a second (most
of an idle service's CPU); with a long one a record that arrives during the sleep waits for its end.

aiokafka's `getmany(timeout_ms=…)` already returns as soon as a fetch brings records (its fetcher keeps
a long-poll fetch open on the broker), so the sleep buys nothing: this subscriber asks again at once.
The timeout is then only how often an idle consumer's loop turns, not a delay any record waits.

A group reads every event of its topics, most of them other groups' (six groups read the applications' topic;
servicing applies one type of it). A fetch whose records are all of types the group does not apply (`Skips`)
is not handed to FastStream: its offsets go straight to the group's commits, without the per-fetch pipeline
(middlewares, dependency injection, acknowledgement) that applying nothing would cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING, Protocol

from faststream.kafka.subscriber.usecase import BatchSubscriber

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord


class Skips(Protocol):
    """What tells a subscriber which fetches its group has nothing to apply of, and takes their offsets instead."""

    def none_for_us(self, consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord]) -> bool:
        """True when the group applies none of `records`, and is done with them."""
        ...


class LongPollBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber without the sleep after an empty fetch."""

    __slots__ = ()
    skips: Skips | None = None  # set on the class `long_poll` makes for one subscriber

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord, ...]:
        """What one fetch brought: returns as soon as records arrive, or empty after the timeout (or when the group
        applies none of them: they are passed on, see the module's docstring)."""
        fetched = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
        records = tuple(chain.from_iterable(fetched.values()))
        if records and self.skips is not None and self.skips.none_for_us(consumer, records):
            # The loop asks again at once, and records already fetched come back without a pause: let the service's
            # other tasks run between two such fetches, as applying one would.
            await asyncio.sleep(0)
            return ()
        return records


def long_poll(subscriber: object, skips: Skips | None = None) -> LongPollBatchSubscriber:
    """Make the batch subscriber `broker.subscriber(..., batch=True)` returned wait for records instead of polling,
    and, with `skips`, pass on the fetches its group applies none of.

    FastStream builds the subscriber itself; it has no hook for the class, so the instance's class is
    swapped for a subclass of this one, of its own (same slots, `get_msg` and its `skips` differ), before
    the broker starts it.
    """
    if type(subscriber) is not BatchSubscriber:
        raise TypeError(f"expected FastStream's BatchSubscriber, got {type(subscriber).__name__}")
    subscriber.__class__ = type(LongPollBatchSubscriber.__name__, (LongPollBatchSubscriber,), {"__slots__": (), "skips": skips})
    return subscriber  # type: ignore[return-value]
