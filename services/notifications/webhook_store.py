"""SQL for the banks' webhook subscriptions, the webhook outbox and its delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from services.notifications import webhooks
from shared.events import Envelope

Connection = asyncpg.Connection | asyncpg.Pool


class Subscription(BaseModel):
    """A bank's subscription: which events, to which URL."""

    id: UUID
    bank_id: str
    url: str
    event_types: list[str]
    status: Literal["active", "paused"]
    consecutive_failures: int = Field(description="Failed attempts in a row; the subscription pauses at the configured limit.")
    created_at: datetime
    paused_at: datetime | None = None


class CreatedSubscription(Subscription):
    """The subscription just created, with its signing secret: shown this once, keep it safe."""

    secret: str = Field(description="HMAC-SHA256 key of the `X-Microcredit-Signature` header. Not shown again.")


class Attempt(BaseModel):
    """One try to deliver."""

    number: int
    attempted_at: datetime
    status_code: int | None = Field(description="The bank's HTTP status; null when no answer came (network error, timeout).")
    error: str | None
    latency_ms: int


class Delivery(BaseModel):
    """One event for one subscription, and its attempts."""

    id: UUID = Field(description="The `X-Microcredit-Delivery` header: the same on every retry and resend.")
    subscription_id: UUID
    event_id: UUID
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[Attempt] = Field(default_factory=list)


_SUBSCRIPTION = "id, bank_id, url, event_types, status, consecutive_failures, created_at, paused_at"
_DELIVERY = (
    "id, subscription_id, event_id, event_type, status, attempts,"
    " case when status = 'pending' then next_attempt_at end as next_attempt_at,"
    " last_status_code, last_error, created_at, delivered_at"
)


async def create(conn: Connection, sub: Subscription, secret: str) -> None:
    """Store a new subscription."""
    await conn.execute(
        "insert into webhook_subscriptions (id, bank_id, url, event_types, secret, status, consecutive_failures, created_at)"
        " values ($1, $2, $3, $4, $5, 'active', 0, $6)",
        sub.id, sub.bank_id, sub.url, sub.event_types, secret, sub.created_at,
    )


async def get(conn: Connection, subscription_id: UUID) -> Subscription | None:
    """A subscription that was not deleted, or None."""
    row = await conn.fetchrow(
        f"select {_SUBSCRIPTION} from webhook_subscriptions where id = $1 and status <> 'deleted'", subscription_id
    )
    return Subscription(**dict(row)) if row else None


async def of_bank(conn: Connection, bank_id: str) -> list[Subscription]:
    """A bank's subscriptions, oldest first."""
    rows = await conn.fetch(
        f"select {_SUBSCRIPTION} from webhook_subscriptions where bank_id = $1 and status <> 'deleted' order by created_at, id", bank_id
    )
    return [Subscription(**dict(r)) for r in rows]


async def delete(conn: Connection, subscription_id: UUID, now: datetime) -> None:
    """Stop a subscription; its pending deliveries are dropped, its log is kept."""
    await conn.execute("update webhook_subscriptions set status = 'deleted', deleted_at = $2 where id = $1", subscription_id, now)
    await conn.execute(
        "update webhook_deliveries set status = 'failed', last_error = 'subscription deleted' where subscription_id = $1 and status = 'pending'",
        subscription_id,
    )


async def resume(conn: Connection, subscription_id: UUID, now: datetime) -> None:
    """Restart a paused subscription: what waited is sent now."""
    resumed = await conn.fetchval(
        "update webhook_subscriptions set status = 'active', consecutive_failures = 0, paused_at = null"
        " where id = $1 and status = 'paused' returning true",
        subscription_id,
    )
    if resumed:
        await conn.execute(
            "update webhook_deliveries set next_attempt_at = $2 where subscription_id = $1 and status = 'pending'", subscription_id, now
        )


async def fan_out(conn: asyncpg.Connection, event: Envelope[Any], bank_id: str, now: datetime) -> int:
    """In the event's transaction: one delivery per subscription of `bank_id` to this event type (paused ones wait)."""
    subscriptions = await conn.fetch(
        "select id from webhook_subscriptions where bank_id = $1 and status in ('active', 'paused') and $2 = any(event_types)",
        bank_id, event.type,
    )
    rows = []
    for sub in subscriptions:
        delivery = webhooks.delivery_id(sub["id"], event.id)
        rows.append((delivery, sub["id"], event.id, event.type, webhooks.payload(event, delivery), now))
    await conn.executemany(
        "insert into webhook_deliveries (id, subscription_id, event_id, event_type, body, status, next_attempt_at, created_at)"
        " values ($1, $2, $3, $4, $5, 'pending', $6, $6) on conflict do nothing",
        rows,
    )
    return len(rows)


async def _with_attempts(conn: Connection, rows: list[asyncpg.Record]) -> list[Delivery]:
    ids = [r["id"] for r in rows]
    attempts: dict[UUID, list[Attempt]] = {i: [] for i in ids}
    for a in await conn.fetch(
        "select delivery_id, number, attempted_at, status_code, error, latency_ms from webhook_attempts"
        " where delivery_id = any($1::uuid[]) order by id",
        ids,
    ):
        values = dict(a)
        attempts[values.pop("delivery_id")].append(Attempt(**values))
    return [Delivery(**dict(r), attempt_log=attempts[r["id"]]) for r in rows]


async def deliveries(
    conn: Connection, subscription_id: UUID, *, status: str | None, limit: int, offset: int
) -> tuple[list[Delivery], int]:
    """A page of a subscription's delivery log, newest first, and the total."""
    where = " where subscription_id = $1 and ($2::text is null or status = $2)"
    rows = await conn.fetch(
        f"select {_DELIVERY} from webhook_deliveries{where} order by created_at desc, id limit $3 offset $4",
        subscription_id, status, limit, offset,
    )
    total = await conn.fetchval(f"select count(*) from webhook_deliveries{where}", subscription_id, status)
    return await _with_attempts(conn, rows), int(total)


async def delivery(conn: Connection, delivery_id: UUID) -> tuple[Delivery, str] | None:
    """One delivery with its attempts, and the bank it is for; None if unknown or its subscription was deleted."""
    row = await conn.fetchrow(
        "select d.id, d.subscription_id, d.event_id, d.event_type, d.status, d.attempts,"
        " case when d.status = 'pending' then d.next_attempt_at end as next_attempt_at, d.last_status_code, d.last_error,"
        " d.created_at, d.delivered_at, s.bank_id"
        " from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id where d.id = $1 and s.status <> 'deleted'",
        delivery_id,
    )
    if row is None:
        return None
    values = dict(row)
    bank_id = values.pop("bank_id")
    [found] = await _with_attempts(conn, [values])  # type: ignore[list-item]
    return found, bank_id


async def resend(conn: Connection, delivery_id: UUID, now: datetime) -> None:
    """Send this delivery again (same id, same body), now and with a fresh count of attempts."""
    await conn.execute(
        "update webhook_deliveries set status = 'pending', attempts = 0, next_attempt_at = $2 where id = $1", delivery_id, now
    )
