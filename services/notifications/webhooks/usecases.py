"""Webhook use cases: a bank's subscriptions and resends, the fan-out of each event, and the worker that POSTs due deliveries.

Each delivery row is locked (`FOR UPDATE SKIP LOCKED`) for its attempt and its outcome is written in
the same transaction. A bank may still receive one delivery twice (it answered 2xx and the process
died before the commit; a resend on demand): it deduplicates on `X-Microcredit-Delivery`.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

import asyncpg
import httpx
from pydantic import BaseModel, Field

from services.notifications import backoff
from services.notifications.alerts import repository as alerts
from services.notifications.alerts.domain import ALERT_ID_NAMESPACE, SOURCE
from services.notifications.context import Notifications
from services.notifications.email import usecases as email
from services.notifications.metrics import DeliveryMetrics
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import client, domain, repository
from services.notifications.webhooks.domain import CreatedSubscription
from shared.events import DeliveryFailed, DeliveryFailedData, Envelope, new_event
from shared.outbox import add_to_outbox

log = logging.getLogger(__name__)


class Webhooks(BaseModel):
    """What the webhook worker did."""

    webhooks_delivered: int = Field(0, description="Deliveries a bank answered with 2xx.")
    webhooks_retried: int = Field(0, description="Deliveries to try again later.")
    webhooks_failed: int = Field(0, description="Deliveries given up.")
    subscriptions_paused: int = Field(0, description="Subscriptions paused after repeated failures.")


# --- a bank's commands -------------------------------------------------------------------------------


async def subscribe(
    pool: asyncpg.Pool, bank_id: str, url: str, event_types: list[str], settings: NotificationsSettings, now: datetime
) -> CreatedSubscription:
    """A new subscription, with its signing secret (shown this once)."""
    domain.require_https(url, allow_insecure=settings.webhook_allow_insecure_urls)
    sub = CreatedSubscription(
        id=uuid4(), bank_id=bank_id, url=url, event_types=event_types, status="active", consecutive_failures=0, created_at=now,
        secret="whsec_" + secrets.token_urlsafe(32),
    )
    await repository.create(pool, sub, sub.secret)
    return sub


async def unsubscribe(pool: asyncpg.Pool, subscription_id: UUID, now: datetime) -> None:
    """No more deliveries; what was pending is dropped, the log is kept."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.delete(conn, subscription_id, now)


async def resume(pool: asyncpg.Pool, subscription_id: UUID, now: datetime) -> None:
    """Restart a paused subscription: what waited is sent by the next worker run. An active one stays as it is."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.resume(conn, subscription_id, now)


async def resend(pool: asyncpg.Pool, delivery_id: UUID, now: datetime) -> None:
    """Send a delivery again: same id and body, a fresh count of attempts."""
    await repository.resend(pool, delivery_id, now)


# --- each event, in its transaction ------------------------------------------------------------------


async def bank_of(conn: asyncpg.Connection, event: Envelope[Any]) -> str | None:
    """The bank an event concerns: named in it, or the bank the loan's file went to."""
    data = event.data
    if bank_id := getattr(data, "bank_id", None):
        return str(bank_id)
    loan_id: UUID | None = getattr(data, "loan_id", None)
    return await alerts.bank_of_loan(conn, loan_id) if loan_id else None


async def fan_out(conn: asyncpg.Connection, event: Envelope[Any], bank_id: str, now: datetime) -> int:
    """One delivery per subscription of `bank_id` (the event's bank) to the event's type."""
    return await repository.add_deliveries(conn, event, bank_id, now)


# --- the worker --------------------------------------------------------------------------------------


async def send_due_webhooks(ctx: Notifications) -> Webhooks:
    """Deliver what is due now to active subscriptions (at most `delivery_batch_size`); then count what still waits."""
    settings = ctx.settings
    run = Webhooks()
    metrics = DeliveryMetrics.of(ctx.registry)
    http: httpx.AsyncClient | None = None  # made at the first delivery due: most runs have none (a TLS context costs)
    try:
        for _ in range(settings.delivery_batch_size):
            async with ctx.pool.acquire() as conn, conn.transaction():
                row = await repository.next_due(conn, ctx.clock.now())
                if row is None:
                    break
                if http is None:
                    http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
                await _attempt(conn, http, row, ctx, run, metrics)
    finally:
        if http is not None:
            await http.aclose()
    if metrics is not None:
        metrics.webhooks_waiting(await repository.pending_by_subscription_status(ctx.pool))
    return run


async def _attempt(
    conn: asyncpg.Connection, http: httpx.AsyncClient, row: asyncpg.Record, ctx: Notifications, run: Webhooks,
    metrics: DeliveryMetrics | None,
) -> None:
    settings = ctx.settings
    body = bytes(row["body"])
    headers = domain.signed_headers(secret=row["secret"], body=body, delivery=row["id"], event_type=row["event_type"], at=ctx.clock.now())
    answer = await client.post(http, row["url"], body, headers)
    now = ctx.clock.now()
    attempts = row["attempts"] + 1
    await repository.log_attempt(conn, row["id"], now, answer.status_code, answer.error, answer.latency_ms)
    if answer.error is None:
        await repository.mark_delivered(conn, row["id"], row["subscription_id"], attempts, answer.status_code, now)
        run.webhooks_delivered += 1
        if metrics is not None:
            metrics.webhook_attempt(row["bank_id"], "delivered")
        return
    gave_up = attempts >= settings.webhook_max_attempts
    delay = backoff.retry_delay(attempts, base_seconds=settings.webhook_retry_base_seconds, max_seconds=settings.webhook_retry_max_seconds)
    failures = await repository.mark_failed_attempt(
        conn, row["id"], row["subscription_id"], attempts=attempts, gave_up=gave_up, retry_at=now + delay,
        status_code=answer.status_code, error=answer.error,
    )
    run.webhooks_failed += gave_up
    run.webhooks_retried += not gave_up
    if metrics is not None:
        metrics.webhook_attempt(row["bank_id"], "dead" if gave_up else "failed", answer.failure or "error")
    log.warning("webhook %s to %s failed (attempt %d, %d in a row): %s", row["id"], row["bank_id"], attempts, failures, answer.error)
    if failures >= settings.webhook_pause_after_failures and await _pause(conn, row, attempts, failures, answer.error, ctx):
        run.subscriptions_paused += 1
        if metrics is not None:
            metrics.webhook_subscriptions_paused.labels(row["bank_id"]).inc()


async def _pause(conn: asyncpg.Connection, row: asyncpg.Record, attempts: int, failures: int, error: str, ctx: Notifications) -> bool:
    """Pause the subscription, tell the bank's contact and say so on the alerts topic; False if it was paused already."""
    now = ctx.clock.now()
    if not await repository.pause(conn, row["subscription_id"], now):
        return False
    incident = uuid5(ALERT_ID_NAMESPACE, f"paused:{row['subscription_id']}:{now.isoformat()}")
    await email.tell_bank_contact(
        conn, bank_id=row["bank_id"], subscription_id=row["subscription_id"], url=row["url"], failures=failures, error=error,
        incident=incident, settings=ctx.settings, now=now,
    )
    event = new_event(
        DeliveryFailed, source=SOURCE, subject=str(incident), time=now,
        data=DeliveryFailedData(
            alert_id=incident, channel="webhook", delivery_id=row["id"], attempts=attempts, last_error=error,
            bank_id=row["bank_id"], subscription_id=row["subscription_id"], consecutive_failures=failures, subscription_paused=True,
        ),
    )
    await add_to_outbox(conn, event)
    log.error("webhook subscription %s of %s paused after %d failures in a row", row["subscription_id"], row["bank_id"], failures)
    return True
