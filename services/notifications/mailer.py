"""The mailer: sends due e-mail deliveries over SMTP, one locked row at a time, retrying with backoff.

A row is locked (`FOR UPDATE SKIP LOCKED`), sent, and marked sent in the same transaction, so two
replicas never send it together and a sent row is not picked again. The one window left: the SMTP
server accepted the message and the process dies (or the database fails) before the commit; the
row stays pending and is sent again, with the same Message-ID, which lets mail clients and
gateways that deduplicate on it show one message. That is at-least-once, never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from uuid import UUID

import aiosmtplib
import asyncpg

from services.notifications import domain, emails
from services.notifications.settings import NotificationsSettings
from shared.events import DeliveryFailed, new_event
from shared.events import DeliveryFailedData
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)


@dataclass
class MailerRun:
    """What one run of the mailer did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


class PermanentFailure(Exception):
    """The SMTP server refused for good (5xx): retrying would not help."""


async def _send(message: EmailMessage, settings: NotificationsSettings) -> None:
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(text) from exc
        raise
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentFailure(f"{exc.code} {exc.message}") from exc
        raise


async def send_due_emails(ctx: ServiceContext) -> MailerRun:
    """Send the e-mails due now (at most `delivery_batch_size`)."""
    settings = ctx.settings
    assert isinstance(settings, NotificationsSettings)
    run = MailerRun()
    for _ in range(settings.delivery_batch_size):
        async with ctx.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "select * from email_deliveries where status = 'pending' and next_attempt_at <= $1"
                " order by next_attempt_at, created_at limit 1 for update skip locked",
                ctx.clock.now(),
            )
            if row is None:
                break
            await _attempt(conn, row, settings, ctx, run)
    return run


async def _attempt(conn: asyncpg.Connection, row: asyncpg.Record, settings: NotificationsSettings, ctx: ServiceContext, run: MailerRun) -> None:
    letter = emails.Letter(row["subject"], row["body"])
    message = emails.mime(letter, sender=settings.email_sender, recipients=list(row["recipients"]), delivery_id=row["id"], created_at=row["created_at"])
    attempts = row["attempts"] + 1
    try:
        await _send(message, settings)
    except PermanentFailure as exc:
        await _give_up(conn, row, attempts, f"refused: {exc}", ctx)
        run.failed += 1
        return
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        if attempts >= settings.email_max_attempts:
            await _give_up(conn, row, attempts, error, ctx)
            run.failed += 1
            return
        delay = domain.retry_delay(attempts, base_seconds=settings.email_retry_base_seconds, max_seconds=settings.email_retry_max_seconds)
        await conn.execute(
            "update email_deliveries set attempts = $2, last_error = $3, next_attempt_at = $4 where id = $1",
            row["id"], attempts, error, ctx.clock.now() + delay,
        )
        log.warning("e-mail %s not sent (attempt %d), retry in %s: %s", row["id"], attempts, delay, error)
        run.retried += 1
        return
    await conn.execute(
        "update email_deliveries set status = 'sent', attempts = $2, sent_at = $3, last_error = null where id = $1",
        row["id"], attempts, ctx.clock.now(),
    )
    run.sent += 1


async def _give_up(conn: asyncpg.Connection, row: asyncpg.Record, attempts: int, error: str, ctx: ServiceContext) -> None:
    now = ctx.clock.now()
    await conn.execute(
        "update email_deliveries set status = 'failed', attempts = $2, last_error = $3 where id = $1", row["id"], attempts, error[:1000]
    )
    about: UUID = row["alert_id"] or row["id"]
    failed = new_event(
        DeliveryFailed, source=domain.SOURCE, subject=str(about), time=now,
        data=DeliveryFailedData(
            alert_id=about, channel="email", delivery_id=row["id"], attempts=attempts, last_error=error[:1000],
            association_id=row["association_id"],
        ),
    )
    await add_to_outbox(conn, failed)
    log.error("e-mail %s given up after %d attempts: %s", row["id"], attempts, error)
