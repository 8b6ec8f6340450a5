"""Idempotent inbox: an event id is recorded in the transaction that applies it, so it applies once."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.events.envelope import Envelope


async def claim(conn: asyncpg.Connection, consumer: str, event: Envelope[Any]) -> bool:
    """Record `event` as applied by `consumer` in the caller's transaction; False if it already was."""
    inserted = await conn.fetchval(
        "insert into inbox (consumer, event_id, event_type) values ($1, $2, $3)"
        " on conflict do nothing returning true",
        consumer,
        event.id,
        event.type,
    )
    return bool(inserted)
