"""The webhook worker: POSTs due deliveries to the banks, signed, retried with backoff, pausing failing subscriptions.

Each delivery row is locked (`FOR UPDATE SKIP LOCKED`) for its attempt and its outcome is written
in the same transaction. A bank may still receive one delivery twice (it answered 2xx and the
process died before the commit; a resend on demand): it deduplicates on `X-Microcredit-Delivery`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from uuid import uuid5

import asyncpg
import httpx

from services.notifications import domain, emails, mail_outbox, webhooks
from services.notifications.settings import NotificationsSettings
from shared.events import DeliveryFailed, new_event
from shared.events import DeliveryFailedData
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)


@dataclass
class WebhookRun:
    """What one run of the webhook worker did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    paused: int = 0


_DUE = (
    "select d.id, d.body, d.attempts, d.event_type, s.id as subscription_id, s.url, s.secret, s.bank_id"
    " from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id"
    " where d.status = 'pending' and d.next_attempt_at <= $1 and s.status = 'active'"
    " order by d.next_attempt_at, d.created_at limit 1 for update of d skip locked"
)


async def send_due_webhooks(ctx: ServiceContext) -> WebhookRun:
    """Deliver what is due now to active subscriptions (at most `delivery_batch_size`)."""
    settings = ctx.settings
    assert isinstance(settings, NotificationsSettings)
    run = WebhookRun()
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
        for _ in range(settings.delivery_batch_size):
            async with ctx.pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(_DUE, ctx.clock.now())
                if row is None:
                    break
                await _attempt(conn, client, row, settings, ctx, run)
    return run


async def _post(client: httpx.AsyncClient, row: asyncpg.Record, ctx: ServiceContext) -> tuple[int | None, str | None, int]:
    body = bytes(row["body"])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "microcredit-webhooks/1",
        webhooks.SIGNATURE_HEADER: webhooks.signature(row["secret"], body, ctx.clock.now()),
        webhooks.DELIVERY_HEADER: str(row["id"]),
        webhooks.EVENT_TYPE_HEADER: row["event_type"],
    }
    started = time.perf_counter()
    try:
        response = await client.post(row["url"], content=body, headers=headers)
    except (httpx.HTTPError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], int((time.perf_counter() - started) * 1000)
    latency = int((time.perf_counter() - started) * 1000)
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return response.status_code, error, latency


async def _attempt(
    conn: asyncpg.Connection, client: httpx.AsyncClient, row: asyncpg.Record, settings: NotificationsSettings,
    ctx: ServiceContext, run: WebhookRun,
) -> None:
    status_code, error, latency = await _post(client, row, ctx)
    now = ctx.clock.now()
    attempts = row["attempts"] + 1
    await conn.execute(
        "insert into webhook_attempts (delivery_id, number, attempted_at, status_code, error, latency_ms)"
        " values ($1, (select count(*) + 1 from webhook_attempts where delivery_id = $1), $2, $3, $4, $5)",
        row["id"], now, status_code, error, latency,
    )
    if error is None:
        await conn.execute(
            "update webhook_deliveries set status = 'delivered', attempts = $2, delivered_at = $3, last_status_code = $4, last_error = null"
            " where id = $1",
            row["id"], attempts, now, status_code,
        )
        await conn.execute("update webhook_subscriptions set consecutive_failures = 0 where id = $1", row["subscription_id"])
        run.delivered += 1
        return
    gave_up = attempts >= settings.webhook_max_attempts
    delay = domain.retry_delay(attempts, base_seconds=settings.webhook_retry_base_seconds, max_seconds=settings.webhook_retry_max_seconds)
    await conn.execute(
        "update webhook_deliveries set status = $2, attempts = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6 where id = $1",
        row["id"], "failed" if gave_up else "pending", attempts, now + delay, status_code, error,
    )
    run.failed += gave_up
    run.retried += not gave_up
    failures = await conn.fetchval(
        "update webhook_subscriptions set consecutive_failures = consecutive_failures + 1 where id = $1 returning consecutive_failures",
        row["subscription_id"],
    )
    log.warning("webhook %s to %s failed (attempt %d, %d in a row): %s", row["id"], row["bank_id"], attempts, failures, error)
    if failures >= settings.webhook_pause_after_failures:
        await _pause(conn, row, attempts, failures, error or "", settings, ctx)
        run.paused += 1


async def _pause(
    conn: asyncpg.Connection, row: asyncpg.Record, attempts: int, failures: int, error: str, settings: NotificationsSettings,
    ctx: ServiceContext,
) -> None:
    now = ctx.clock.now()
    paused = await conn.fetchval(
        "update webhook_subscriptions set status = 'paused', paused_at = $2 where id = $1 and status = 'active' returning true",
        row["subscription_id"], now,
    )
    if not paused:
        return
    incident = uuid5(domain.ALERT_ID_NAMESPACE, f"paused:{row['subscription_id']}:{now.isoformat()}")
    contact = settings.bank_contacts.get(row["bank_id"])
    if contact:
        letter = emails.paused_subscription_letter(
            bank_id=row["bank_id"], subscription_id=row["subscription_id"], url=row["url"], failures=failures,
            last_error=error, paused_at=now, zone=settings.zone,
        )
        await mail_outbox.insert_delivery(
            conn, delivery_id=mail_outbox.email_id("paused", row["subscription_id"], now.isoformat()), kind="bank_contact",
            recipients=[contact], letter=letter, now=now, alert_id=incident,
        )
    else:
        log.warning("no contact e-mail for bank %s: its paused subscription is told by event only", row["bank_id"])
    event = new_event(
        DeliveryFailed, source=domain.SOURCE, subject=str(incident), time=now,
        data=DeliveryFailedData(
            alert_id=incident, channel="webhook", delivery_id=row["id"], attempts=attempts, last_error=error,
            bank_id=row["bank_id"], subscription_id=row["subscription_id"], consecutive_failures=failures, subscription_paused=True,
        ),
    )
    await add_to_outbox(conn, event)
    log.error("webhook subscription %s of %s paused after %d failures in a row", row["subscription_id"], row["bank_id"], failures)
