"""E-mail use cases: queue an alert's e-mail in its transaction, the counsellors' choice, the daily digests, the SMTP worker.

The worker locks a row (`FOR UPDATE SKIP LOCKED`), sends it, and marks it sent in the same transaction,
so two replicas never send it together and a sent row is not picked again. The one window left: the
relay accepted the message and the process dies (or the database fails) before the commit; the row
stays pending and is sent again, with the same Message-ID, which lets mail clients and gateways that
deduplicate on it show one message. That is at-least-once, never lost.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from services.notifications import backoff
from services.notifications.alerts import repository as alerts
from services.notifications.alerts.domain import SOURCE, Alert
from services.notifications.context import Notifications
from services.notifications.email import letters, repository, smtp
from services.notifications.email.domain import (
    Addressee,
    EmailMode,
    EmailPreference,
    NoAddress,
    addressee_for,
    addresses,
    default_preference,
    email_id,
    may_wait_for_digest,
)
from services.notifications.metrics import DeliveryMetrics
from services.notifications.settings import NotificationsSettings
from shared.events import DeliveryFailed, DeliveryFailedData, DirectoryAssociationData, DirectoryContactData, new_event
from shared.outbox import add_to_outbox

log = logging.getLogger(__name__)


class Digests(BaseModel):
    """What the digest timer did."""

    digests: int = Field(0, description="Daily digests written.")


class Emails(BaseModel):
    """What the mailer did."""

    emails_sent: int = Field(0, description="E-mails the SMTP relay accepted.")
    emails_retried: int = Field(0, description="E-mails to try again later.")
    emails_failed: int = Field(0, description="E-mails given up (`delivery failed`).")


# --- the counsellor's choice -------------------------------------------------------------------------


async def preference(conn: repository.Connection, counsellor_id: str, settings: NotificationsSettings) -> EmailPreference:
    """The counsellor's choice, or the default (one e-mail per alert)."""
    return await repository.preference(conn, counsellor_id) or default_preference(counsellor_id, settings)


async def choose(
    pool: asyncpg.Pool, counsellor_id: str, mode: EmailMode, digest_hour: int | None, settings: NotificationsSettings, now: datetime
) -> EmailPreference:
    """Immediate e-mails or a daily digest; without an hour, the digest keeps the one chosen before (or the default)."""
    async with pool.acquire() as conn, conn.transaction():
        current = await preference(conn, counsellor_id, settings)
        chosen = EmailPreference(
            counsellor_id=counsellor_id, mode=mode, digest_hour=current.digest_hour if digest_hour is None else digest_hour,
            updated_at=now,
        )
        await repository.save_preference(conn, chosen)
        return chosen


# --- e-mails written in the alert's transaction ------------------------------------------------------


async def _borrower(conn: asyncpg.Connection, alert: Alert) -> str | None:
    if alert.application_id is None:
        return None
    return (await alerts.applicant_names(conn, [alert.application_id])).get(alert.application_id)


async def queue_alert(conn: asyncpg.Connection, alert: Alert, settings: NotificationsSettings, now: datetime) -> None:
    """In the alert's transaction: its e-mail now, or a line in the next digest if the counsellor asked for one.

    The e-mail is written for its addressee; the mailer looks the address up in the directory when it sends it.
    """
    mailing = await repository.alert_mailing(conn, alert.counsellor_id, alert.application_id)
    if may_wait_for_digest(alert, mailing.own_address is not None) and mailing.mode == "daily_digest":
        await repository.add_to_digest(conn, alert.counsellor_id, alert.id, now)
        return
    letter = letters.alert_letter(alert, borrower=mailing.borrower, base_url=settings.public_base_url, zone=settings.zone)
    await repository.insert_delivery(
        conn, delivery_id=email_id("alert", alert.id), kind="alert", addressee=addressee_for(alert), letter=letter, now=now,
        alert_id=alert.id,
    )


async def queue_reminder(conn: asyncpg.Connection, alert: Alert, woke_from: datetime, settings: NotificationsSettings, now: datetime) -> None:
    """A snoozed alert is back: remind its addressees (always at once)."""
    letter = letters.alert_letter(
        alert, borrower=await _borrower(conn, alert), base_url=settings.public_base_url, zone=settings.zone, reminder=True
    )
    await repository.insert_delivery(
        conn, delivery_id=email_id("reminder", alert.id, woke_from.isoformat()), kind="reminder",
        addressee=addressee_for(alert), letter=letter, now=now, alert_id=alert.id,
    )


async def tell_bank_contact(
    conn: asyncpg.Connection, *, bank_id: str, subscription_id: UUID, url: str, failures: int, error: str, incident: UUID,
    settings: NotificationsSettings, now: datetime,
) -> None:
    """In the pause's transaction: the bank's technical contacts (as the directory says when it is sent) hear that its
    webhook subscription stopped."""
    letter = letters.paused_subscription_letter(
        bank_id=bank_id, subscription_id=subscription_id, url=url, failures=failures, last_error=error, paused_at=now, zone=settings.zone,
    )
    await repository.insert_delivery(
        conn, delivery_id=email_id("paused", subscription_id, now.isoformat()), kind="bank_contact",
        addressee=Addressee("bank", bank_id), letter=letter, now=now, alert_id=incident,
    )


# --- the directory's snapshots: the addresses, as they are when an e-mail is sent ---------------------


async def keep_contact(conn: asyncpg.Connection, data: DirectoryContactData) -> None:
    """The directory changed a person's contact: the e-mails sent from now on go to the new address."""
    await repository.keep_contact(conn, data)


async def keep_association(conn: asyncpg.Connection, data: DirectoryAssociationData) -> None:
    """The directory changed an association: its shared mailbox, from now on."""
    await repository.keep_association(conn, data)


# --- the digest timer --------------------------------------------------------------------------------


async def write_digests(ctx: Notifications) -> Digests:
    """Write the daily digest of each counsellor whose digest hour has come and who has alerts waiting."""
    settings, now = ctx.settings, ctx.clock.now()
    local = now.astimezone(settings.zone)
    run = Digests()
    for counsellor_id, digest_hour in await repository.digests_waiting(ctx.pool, settings.default_digest_hour):
        if local.hour < digest_hour:
            continue
        async with ctx.pool.acquire() as conn, conn.transaction():
            run.digests += await _digest(conn, counsellor_id, settings, now)
    return run


async def _digest(conn: asyncpg.Connection, counsellor_id: str, settings: NotificationsSettings, now: datetime) -> int:
    day = now.astimezone(settings.zone).date()
    delivery_id = email_id("digest", counsellor_id, day.isoformat())
    if await repository.delivery_exists(conn, delivery_id):
        return 0  # today's digest went out already: what came since waits for tomorrow's
    ids = await repository.digest_items(conn, counsellor_id)
    if not ids:
        return 0
    waiting = await alerts.many(conn, ids)
    names = await alerts.applicant_names(conn, [a.application_id for a in waiting if a.application_id])
    letter = letters.digest_letter(
        [(a, names.get(a.application_id) if a.application_id else None) for a in waiting],
        day=day, base_url=settings.public_base_url, zone=settings.zone,
    )
    await repository.insert_delivery(
        conn, delivery_id=delivery_id, kind="digest", addressee=Addressee("counsellor", counsellor_id, waiting[0].association_id),
        letter=letter, now=now,
    )
    await repository.remove_digest_items(conn, counsellor_id, ids)
    return 1


# --- the mailer --------------------------------------------------------------------------------------


async def send_due_emails(ctx: Notifications) -> Emails:
    """Send the e-mails due now (at most `delivery_batch_size`), one locked row at a time; then count what still waits."""
    run = Emails()
    metrics = DeliveryMetrics.of(ctx.registry)
    async with smtp.Relay(ctx.settings) as relay:  # one connection for the run's e-mails, opened at the first
        for _ in range(ctx.settings.delivery_batch_size):
            async with ctx.pool.acquire() as conn, conn.transaction():
                row = await repository.next_due(conn, ctx.clock.now())
                if row is None:
                    break
                await _attempt(conn, row, ctx, run, metrics, relay)
    if metrics is not None:
        metrics.emails_pending.set(await repository.pending(ctx.pool))
    return run


async def _recipients(conn: asyncpg.Connection, row: asyncpg.Record) -> list[str]:
    """The addresses of the e-mail's addressee, as the directory's copy says now (rows from before: the ones they kept)."""
    if row["addressee_kind"] is None:
        return list(row["recipients"])
    addressee = Addressee(row["addressee_kind"], row["addressee_id"], row["association_id"])
    return addresses(addressee, await repository.address_book(conn, addressee))


async def _attempt(
    conn: asyncpg.Connection, row: asyncpg.Record, ctx: Notifications, run: Emails, metrics: DeliveryMetrics | None,
    relay: smtp.Relay,
) -> None:
    settings = ctx.settings
    letter = letters.Letter(row["subject"], row["body"])
    attempts = row["attempts"] + 1
    try:
        recipients = await _recipients(conn, row)
        message = letters.mime(letter, sender=settings.email_sender, recipients=recipients, delivery_id=row["id"], created_at=row["created_at"])
        await relay.send(message)
    except smtp.PermanentFailure as exc:
        await _give_up(conn, row, attempts, f"refused: {exc}", ctx)
        run.emails_failed += 1
        if metrics is not None:
            metrics.email_attempt("dead", smtp.failure_class(exc))
        return
    except (*smtp.TEMPORARY, NoAddress) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        reason = "no_address" if isinstance(exc, NoAddress) else smtp.failure_class(exc)
        if attempts >= settings.email_max_attempts:
            await _give_up(conn, row, attempts, error, ctx)
            run.emails_failed += 1
            if metrics is not None:
                metrics.email_attempt("dead", reason)
            return
        delay = backoff.retry_delay(attempts, base_seconds=settings.email_retry_base_seconds, max_seconds=settings.email_retry_max_seconds)
        await repository.retry_later(conn, row["id"], attempts, error, ctx.clock.now() + delay)
        log.warning("e-mail %s not sent (attempt %d), retry in %s: %s", row["id"], attempts, delay, error)
        run.emails_retried += 1
        if metrics is not None:
            metrics.email_attempt("failed", reason)
        return
    await repository.mark_sent(conn, row["id"], attempts, ctx.clock.now(), recipients)
    run.emails_sent += 1
    if metrics is not None:
        metrics.email_attempt("sent")


async def _give_up(conn: asyncpg.Connection, row: asyncpg.Record, attempts: int, error: str, ctx: Notifications) -> None:
    await repository.mark_failed(conn, row["id"], attempts, error[:1000])
    about: UUID = row["alert_id"] or row["id"]
    failed = new_event(
        DeliveryFailed, source=SOURCE, subject=str(about), time=ctx.clock.now(),
        data=DeliveryFailedData(
            alert_id=about, channel="email", delivery_id=row["id"], attempts=attempts, last_error=error[:1000],
            association_id=row["association_id"],
        ),
    )
    await add_to_outbox(conn, failed)
    log.error("e-mail %s given up after %d attempts: %s", row["id"], attempts, error)
