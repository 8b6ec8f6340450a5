"""Parked events: an event that comes before what it refers to waits in `parked_events`, and is tried again.

A handler raises `EventTooEarly` for a bank's payment of a loan not opened yet, or a decision before the routing:
the event is kept aside so its partition flows, and the later events of its key wait behind it. The parked
events are tried again, oldest first per key, whenever the group applied something and at least every
`park_retry_seconds`; one parked longer than `park_max_seconds` goes to the dead-letter topic with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from shared.clock import Clock
from shared.consumer_types import (
    BatchFailed,
    BatchSettings,
    EventRejected,
    EventTooEarly,
    Handler,
    Item,
    PoolHolder,
    Record,
)
from shared.events import parse_event
from shared.events.envelope import Envelope

log = logging.getLogger(__name__)


async def _no_handler(_conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    raise EventRejected(f"no handler for {event.type} any more")


class Parking:
    """The parking of `shared.consumer.EventConsumer`, which this class is a part of (a mixin: it uses its fields)."""

    pools: PoolHolder
    group_id: str
    handlers: Mapping[str, Handler]
    clock: Clock
    batching: BatchSettings
    on_applied: Callable[[], None]
    maybe_parked: bool

    if TYPE_CHECKING:  # what the consumer itself provides

        async def _transaction(self, items: Sequence[Item]) -> int: ...

        async def _settle_one(self, item: Item, cause: BaseException) -> int: ...

        async def dead_letter(self, record: Record, reason: str, *, detail: str = "", parked_id: int | None = None) -> None: ...

    async def park(self, item: Item, reason: str) -> None:
        """Keep an early event aside (or keep it parked, with its latest reason), so its partition flows."""
        async with self.pools.get().acquire() as conn:
            if item.parked_id is not None:
                await conn.execute(
                    "update parked_events set reason = $2, attempts = attempts + 1 where id = $1", item.parked_id, reason[:2000]
                )
                return
            await self._park_row(conn, item, reason)
        log.info("parked %s %s for %s: %s", item.event.type, item.event.id, self.group_id, reason)

    async def _park_row(self, conn: asyncpg.Connection, item: Item, reason: str) -> None:
        record = item.record
        await conn.execute(
            "insert into parked_events (consumer, key, event_id, event_type, topic, partition, kafka_offset,"
            " record_key, payload, header_names, header_values, reason, parked_at)"
            " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) on conflict (consumer, event_id) do nothing",
            self.group_id, record.key_text, item.event.id, item.event.type, record.topic, record.partition, record.offset,
            record.key, record.value, list(record.headers), list(record.headers.values()), reason[:2000], self.clock.now(),
        )
        self.maybe_parked = True

    async def retry_parked(self) -> int:
        """Try the parked events again, oldest first per key; dead-letter those parked longer than allowed.

        One replica at a time does it (a session advisory lock held on its own connection); the rows are read once
        the lock is held, so a replica never retries rows another one has just settled. Returns how many were applied.
        """
        pool = self.pools.get()
        lock = f"parked:{self.group_id}"
        applied = 0
        async with pool.acquire() as leader:
            if not await leader.fetchval("select pg_try_advisory_lock(hashtext($1))", lock):
                return 0
            try:
                rows = await leader.fetch(
                    "select id, key, topic, partition, kafka_offset, record_key, payload, header_names, header_values, parked_at"
                    " from parked_events where consumer = $1 order by key, id",
                    self.group_id,
                )
                if not rows:
                    self.maybe_parked = False
                    return 0
                now = self.clock.now()
                by_key: dict[str, list[asyncpg.Record]] = {}
                for row in rows:
                    by_key.setdefault(row["key"], []).append(row)
                for key_rows in by_key.values():
                    for row in key_rows:
                        record = Record(row["topic"], row["partition"], row["kafka_offset"], row["record_key"],
                                        bytes(row["payload"]), dict(zip(row["header_names"], row["header_values"])))
                        event = parse_event(record.value)
                        item = Item(record, event, self.handlers.get(event.type, _no_handler), parked_id=row["id"])
                        overdue = (now - row["parked_at"]).total_seconds() >= self.batching.park_max_seconds
                        done = await self._retry_one(item, overdue)
                        applied += done
                        if not done and not overdue:
                            break  # still too early: the events behind it on this key wait too
            finally:
                await leader.execute("select pg_advisory_unlock(hashtext($1))", lock)
        if applied:
            self.on_applied()
        return applied

    async def _retry_one(self, item: Item, overdue: bool) -> int:
        try:
            return await self._transaction((item,))
        except BatchFailed as failed:
            if isinstance(failed.cause, EventTooEarly) and overdue:
                await self.dead_letter(
                    item.record,
                    f"too early for {item.event.type}, parked longer than {self.batching.park_max_seconds:g} s: {failed.cause}",
                    parked_id=item.parked_id,
                )
                return 0
            if isinstance(failed.cause, EventTooEarly):
                await self.park(item, str(failed.cause))
                return 0
            return await self._settle_one(item, failed.cause)

    async def run_parked(self, wake: asyncio.Event) -> None:
        """Retry parked events whenever something was applied, and at least every `park_retry_seconds`."""
        while True:
            try:
                await asyncio.wait_for(wake.wait(), self.batching.park_retry_seconds)
                wake.clear()
                if not self.maybe_parked:
                    continue  # nothing parked here at the last look (another replica's parking is seen on the period)
            except TimeoutError:
                pass
            try:
                await self.retry_parked()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retrying the parked events of %s failed; trying again later", self.group_id)
