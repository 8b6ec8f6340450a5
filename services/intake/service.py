"""Intake's use cases: each decision of the domain stored with its events, audit line and milestone in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.intake import domain, repository
from shared.outbox import add_to_outbox


async def store(conn: asyncpg.Connection, change: domain.Change) -> None:
    """Write a change: the file, its events (outbox), its audit line and its funnel milestone."""
    application = change.application
    await repository.save(conn, application)
    await add_to_outbox(conn, *change.events)
    await repository.add_audit(conn, application.id, change.audit)
    if change.milestone is not None:
        await repository.add_milestone(
            conn,
            application.id,
            change.milestone,
            change.audit.at,
            association_id=application.association_id,
            region=application.region,
        )


async def open_file(pool: asyncpg.Pool, change: domain.Change) -> domain.Application:
    """Store a new draft."""
    async with pool.acquire() as conn, conn.transaction():
        await store(conn, change)
    return change.application


async def change_file(
    pool: asyncpg.Pool,
    application_id: UUID,
    association_id: str,
    decide: Callable[[domain.Application], domain.Change | None],
) -> domain.Application | None:
    """Lock one of the association's files, apply a decision, store it; None if the file is not theirs or unknown."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get(conn, application_id, association_id=association_id, for_update=True)
        if current is None:
            return None
        change = decide(current)
        if change is None:
            return current
        await store(conn, change)
    return change.application


async def record_progress(
    conn: asyncpg.Connection,
    application_id: UUID,
    milestone: domain.Milestone,
    *,
    association_id: str,
    region: str,
    actor: domain.Actor,
    at: datetime,
    details: dict[str, Any],
) -> None:
    """Date the milestone an event reports (even for a file intake does not hold) and move the file on."""
    await repository.add_milestone(conn, application_id, milestone, at, association_id=association_id, region=region)
    current = await repository.get(conn, application_id, for_update=True)
    if current is None:
        return
    change = domain.record_progress(current, milestone, actor, at, details)
    if change is not None:
        await repository.save(conn, change.application)
        await repository.add_audit(conn, application_id, change.audit)
