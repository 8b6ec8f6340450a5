"""The e-mail outbox: deliveries written in the alert's transaction, the counsellors' preferences, daily digests."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

import asyncpg
from pydantic import BaseModel, Field

from services.notifications import emails, projections, repository
from services.notifications.domain import Alert
from services.notifications.settings import NotificationsSettings

log = logging.getLogger(__name__)

EMAIL_ID_NAMESPACE = UUID("5e1d2c3b-4a59-4f8e-a7d6-c5b4a3928170")
DeliveryKind = Literal["alert", "reminder", "digest", "bank_contact"]


class EmailPreference(BaseModel):
    """How a counsellor wants their alerts by e-mail."""

    counsellor_id: str
    mode: Literal["immediate", "daily_digest"] = Field(
        description="immediate: one e-mail per alert; daily_digest: one e-mail a day (critical alerts still at once)."
    )
    digest_hour: int = Field(ge=0, le=23, description="Local hour (association's time zone) of the daily digest.")
    updated_at: datetime | None = None


def email_id(*parts: object) -> UUID:
    """A delivery id derived from what it delivers: writing it twice writes it once."""
    return uuid5(EMAIL_ID_NAMESPACE, ":".join(str(p) for p in parts))


def recipients_for(alert: Alert, settings: NotificationsSettings) -> list[str]:
    """Who receives an alert: the counsellor (else the association's mailbox), the shared mailbox, or the supervisors."""
    shared = settings.association_emails.get(alert.association_id, [])
    supervisors = settings.supervisor_emails.get(alert.association_id, [])
    if alert.audience == "supervisor":
        return list(supervisors)
    if alert.audience == "association":
        return list(shared or supervisors)
    own = settings.counsellor_emails.get(alert.counsellor_id)
    return [own] if own else list(shared)


async def preference(conn: repository.Connection, counsellor_id: str, settings: NotificationsSettings) -> EmailPreference:
    """The counsellor's choice, or the default (one e-mail per alert)."""
    row = await conn.fetchrow("select counsellor_id, mode, digest_hour, updated_at from email_preferences where counsellor_id = $1", counsellor_id)
    if row is None:
        return EmailPreference(counsellor_id=counsellor_id, mode="immediate", digest_hour=settings.default_digest_hour)
    return EmailPreference(**dict(row))


async def set_preference(conn: repository.Connection, pref: EmailPreference) -> None:
    """Record the counsellor's choice."""
    await conn.execute(
        "insert into email_preferences (counsellor_id, mode, digest_hour, updated_at) values ($1, $2, $3, $4)"
        " on conflict (counsellor_id) do update set mode = excluded.mode, digest_hour = excluded.digest_hour, updated_at = excluded.updated_at",
        pref.counsellor_id, pref.mode, pref.digest_hour, pref.updated_at,
    )


async def insert_delivery(
    conn: asyncpg.Connection, *, delivery_id: UUID, kind: DeliveryKind, recipients: list[str], letter: emails.Letter,
    now: datetime, alert_id: UUID | None = None, association_id: str | None = None,
) -> bool:
    """Queue an e-mail in the caller's transaction; False if this delivery was already queued."""
    return bool(await conn.fetchval(
        "insert into email_deliveries (id, kind, alert_id, association_id, recipients, subject, body, status, next_attempt_at, created_at)"
        " values ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8) on conflict (id) do nothing returning true",
        delivery_id, kind, alert_id, association_id, recipients, letter.subject, letter.body, now,
    ))


async def _borrower(conn: asyncpg.Connection, alert: Alert) -> str | None:
    if alert.application_id is None:
        return None
    return (await projections.applicant_names(conn, [alert.application_id])).get(alert.application_id)


async def queue_alert(conn: asyncpg.Connection, alert: Alert, settings: NotificationsSettings, now: datetime) -> None:
    """In the alert's transaction: its e-mail now, or a line in tomorrow's digest if the counsellor asked for one."""
    recipients = recipients_for(alert, settings)
    if not recipients:
        log.warning("no e-mail address for alert %s (%s of %s): inbox only", alert.id, alert.audience, alert.association_id)
        return
    if alert.audience == "counsellor" and alert.severity != "critical" and alert.counsellor_id in settings.counsellor_emails:
        if (await preference(conn, alert.counsellor_id, settings)).mode == "daily_digest":
            await conn.execute(
                "insert into digest_items (counsellor_id, alert_id, added_at) values ($1, $2, $3) on conflict do nothing",
                alert.counsellor_id, alert.id, now,
            )
            return
    letter = emails.alert_letter(alert, borrower=await _borrower(conn, alert), base_url=settings.public_base_url, zone=settings.zone)
    await insert_delivery(
        conn, delivery_id=email_id("alert", alert.id), kind="alert", recipients=recipients, letter=letter, now=now,
        alert_id=alert.id, association_id=alert.association_id,
    )


async def queue_reminder(conn: asyncpg.Connection, alert: Alert, woke_from: datetime, settings: NotificationsSettings, now: datetime) -> None:
    """A snoozed alert is back: remind its addressees (always at once)."""
    recipients = recipients_for(alert, settings)
    if not recipients:
        return
    letter = emails.alert_letter(
        alert, borrower=await _borrower(conn, alert), base_url=settings.public_base_url, zone=settings.zone, reminder=True
    )
    await insert_delivery(
        conn, delivery_id=email_id("reminder", alert.id, woke_from.isoformat()), kind="reminder", recipients=recipients,
        letter=letter, now=now, alert_id=alert.id, association_id=alert.association_id,
    )


async def queue_digests(pool: asyncpg.Pool, settings: NotificationsSettings, now: datetime) -> int:
    """Write the daily digest of each counsellor whose digest hour has come and who has alerts waiting."""
    local = now.astimezone(settings.zone)
    waiting = await pool.fetch(
        "select distinct d.counsellor_id, coalesce(p.digest_hour, $1) as digest_hour"
        " from digest_items d left join email_preferences p using (counsellor_id)",
        settings.default_digest_hour,
    )
    written = 0
    for row in waiting:
        if local.hour < row["digest_hour"]:
            continue
        async with pool.acquire() as conn, conn.transaction():
            written += await _digest(conn, row["counsellor_id"], settings, now)
    return written


async def _digest(conn: asyncpg.Connection, counsellor_id: str, settings: NotificationsSettings, now: datetime) -> int:
    day = now.astimezone(settings.zone).date()
    delivery_id = email_id("digest", counsellor_id, day.isoformat())
    if await conn.fetchval("select true from email_deliveries where id = $1", delivery_id):
        return 0  # today's digest went out already: what came since waits for tomorrow's
    ids = [r["alert_id"] for r in await conn.fetch(
        "select alert_id from digest_items where counsellor_id = $1 for update skip locked", counsellor_id
    )]
    if not ids:
        return 0
    alerts = await repository.many(conn, ids)
    names = await projections.applicant_names(conn, [a.application_id for a in alerts if a.application_id])
    letter = emails.digest_letter(
        [(a, names.get(a.application_id) if a.application_id else None) for a in alerts],
        day=day, base_url=settings.public_base_url, zone=settings.zone,
    )
    own = settings.counsellor_emails.get(counsellor_id)
    recipients = [own] if own else settings.association_emails.get(alerts[0].association_id, [])
    if recipients:
        await insert_delivery(
            conn, delivery_id=delivery_id, kind="digest", recipients=list(recipients), letter=letter, now=now,
            association_id=alerts[0].association_id,
        )
    await conn.execute("delete from digest_items where counsellor_id = $1 and alert_id = any($2::uuid[])", counsellor_id, ids)
    return 1
