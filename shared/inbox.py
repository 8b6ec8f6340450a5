"""Idempotent inbox: an event id is recorded in the transaction that applies it, so it applies once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from shared.events.envelope import Envelope


async def claim_unparked(
    conn: asyncpg.Connection, consumer: str, events: Sequence[Envelope[Any]], keys: Sequence[str], retried: Sequence[bool],
    *, announce: str | None = None,
) -> tuple[set[UUID], set[str]]:
    """Record as applied by `consumer` the events whose key has no event parked for `consumer`, and find the keys that
    have one, in one statement of the caller's transaction (one round trip, not a look at `parked_events` then a claim).

    Returns the ids claimed now (an id already in the inbox, or twice in `events`, is claimed once) and those keys.

    `keys[i]` is the Kafka key of `events[i]`; an event `retried[i]` comes from `parked_events` itself: it is claimed
    whatever is parked, and its key is not looked up (its own row is there).

    With `announce` (a channel, `shared.arrivals`), the same statement notifies on it the keys of the events claimed:
    delivered when the transaction commits, never if it rolls back.
    """
    row = await conn.fetchrow(
        "with behind as (select distinct key from parked_events where consumer = $1 and key = any($6::text[])),"
        " batch as (select * from unnest($2::uuid[], $3::text[], $4::text[], $5::bool[]) as e(id, type, key, retried)),"
        " claimed as (insert into inbox (consumer, event_id, event_type)"
        "  select $1, e.id, e.type from batch e where e.retried or e.key not in (select key from behind)"
        "  on conflict do nothing returning event_id),"
        # Referenced below, so evaluated: one notification per distinct key claimed, none without a channel.
        " told as (select pg_notify($7, k.key) from (select distinct e.key from batch e"
        "  where $7::text is not null and e.key <> '' and e.id in (select event_id from claimed) order by e.key) k)"
        " select array(select event_id from claimed) as claimed, array(select key from behind) as behind,"
        " (select count(*) from told) as told",
        consumer,
        [e.id for e in events],
        [e.type for e in events],
        list(keys),
        list(retried),
        sorted({key for key, again in zip(keys, retried, strict=True) if not again}),
        announce,
    )
    assert row is not None  # one row whatever the tables hold
    return set(row["claimed"]), set(row["behind"])
