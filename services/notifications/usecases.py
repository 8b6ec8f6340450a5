"""Use cases: raise an alert with its event and its e-mail in one transaction; act on an alert from the inbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg

from services.notifications import domain, mail_outbox, repository
from services.notifications.domain import Alert, AlertDraft
from services.notifications.settings import NotificationsSettings
from shared.outbox import add_to_outbox


def escalation_delay(settings: NotificationsSettings) -> timedelta:
    """How long an alert may stay unacknowledged."""
    return timedelta(hours=settings.escalation_delay_hours)


async def record_alerts(conn: asyncpg.Connection, drafts: list[AlertDraft], settings: NotificationsSettings, now: datetime) -> list[Alert]:
    """Store each new alert, its event (outbox) and its e-mail (e-mail outbox) in the caller's transaction; duplicates are skipped."""
    raised = []
    for draft in drafts:
        alert, event = domain.raise_alert(draft, now, escalation_delay(settings))
        if await repository.insert(conn, alert):
            await add_to_outbox(conn, event)
            await mail_outbox.queue_alert(conn, alert, settings, now)
            raised.append(alert)
    return raised


async def acknowledge(pool: asyncpg.Pool, alert: Alert, by: str, now: datetime) -> Alert:
    """Acknowledge an alert (and say so on the alerts topic); again changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get(conn, alert.id, for_update=True)
        assert current is not None
        done, event = domain.acknowledge(current, by, now)
        if event is not None:
            await repository.save(conn, done)
            await add_to_outbox(conn, event)
        return done


async def resolve(pool: asyncpg.Pool, alert_id: UUID, by: str, note: str, now: datetime) -> Alert:
    """Resolve an alert with a note."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get(conn, alert_id, for_update=True)
        assert current is not None
        done = domain.resolve(current, by, note, now)
        await repository.save(conn, done)
        return done


async def snooze(pool: asyncpg.Pool, alert_id: UUID, until: date, settings: NotificationsSettings, now: datetime) -> Alert:
    """Put an alert aside until a day."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get(conn, alert_id, for_update=True)
        assert current is not None
        done = domain.snooze(
            current, until, now=now, zone=settings.zone, hour=settings.snooze_wake_hour, max_days=settings.max_snooze_days
        )
        await repository.save(conn, done)
        return done
