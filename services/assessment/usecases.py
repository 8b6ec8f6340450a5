"""Assessment use cases: load the file, let the domain decide, store the change, its audit and its events at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from services.assessment import decision, repository
from services.assessment.domain import Actor, Assessment, Change
from shared.outbox import add_to_outbox

TIMER = Actor(id="/services/assessment/timers", role="system")
Decide = Callable[[Assessment], Change]


async def store(conn: asyncpg.Connection, change: Change) -> Assessment:
    """Write the new state, its audit entries and its events in the caller's transaction."""
    await repository.save(conn, change.assessment)
    await repository.add_audit(conn, change.audit)
    await add_to_outbox(conn, *change.events)
    return change.assessment


async def change_file(
    pool: asyncpg.Pool,
    application_id: UUID,
    *,
    visible: Callable[[Assessment], bool],
    decide: Decide,
) -> Assessment | None:
    """Lock a file the caller may see, apply one decision and store it; None when there is no such file for them."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get(conn, application_id, for_update=True)
        if current is None or not visible(current):
            return None
        return await store(conn, decide(current))


async def raise_overdue(pool: asyncpg.Pool, now: datetime, *, after: timedelta, batch: int = 200) -> int:
    """Raise `bank decision overdue` for every routed file waiting `after` or more; return how many were raised."""
    raised = 0
    while True:
        in_batch = 0
        async with pool.acquire() as conn, conn.transaction():
            waiting = await repository.awaiting_bank_since(conn, now - after, limit=batch)
            for file in waiting:
                change = decision.raise_overdue(file, now, after, TIMER)
                if change is not None:
                    await store(conn, change)
                    in_batch += 1
        raised += in_batch
        if len(waiting) < batch or in_batch == 0:
            return raised

