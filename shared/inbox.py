"""Idempotent inbox: an event id is recorded in the transaction that applies it, so it applies once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from shared.events.envelope import Envelope


async def claim(conn: asyncpg.Connection, consumer: str, event: Envelope[Any]) -> bool:
    """Record `event` as applied by `consumer` in the caller's transaction; False if it already was."""
    return event.id in await claim_many(conn, consumer, (event,))


async def claim_many(conn: asyncpg.Connection, consumer: str, events: Sequence[Envelope[Any]]) -> set[UUID]:
    """Record `events` as applied by `consumer` in one statement of the caller's transaction.

    Returns the ids claimed now: an id already in the inbox (or twice in `events`) is claimed once.
    """
    rows = await conn.fetch(
        "insert into inbox (consumer, event_id, event_type)"
        " select $1, e.id, e.type from unnest($2::uuid[], $3::text[]) as e(id, type)"
        " on conflict do nothing returning event_id",
        consumer,
        [e.id for e in events],
        [e.type for e in events],
    )
    return {r["event_id"] for r in rows}
