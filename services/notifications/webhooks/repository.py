"""SQL of the webhooks group: the banks' subscriptions, the webhook outbox (deliveries) and its log of attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.notifications.webhooks import domain
from services.notifications.webhooks.domain import Attempt, Delivery, DeliveryStatus, Subscription
from shared.events import Envelope
from shared.http import total_of

Connection = asyncpg.Connection | asyncpg.Pool


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


async def add_deliveries(conn: asyncpg.Connection, event: Envelope[Any], bank_id: str, now: datetime) -> int:
    """In the event's transaction: one delivery per subscription of `bank_id` to this event type (paused ones wait)."""
    subscriptions = await conn.fetch(
        "select id from webhook_subscriptions where bank_id = $1 and status in ('active', 'paused') and $2 = any(event_types)",
        bank_id, event.type,
    )
    rows = []
    for sub in subscriptions:
        delivery = domain.delivery_id(sub["id"], event.id)
        rows.append((delivery, sub["id"], event.id, event.type, domain.payload(event, delivery), now))
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
    conn: Connection, subscription_id: UUID, *, status: DeliveryStatus | None, limit: int, offset: int
) -> tuple[list[Delivery], int]:
    """A page of a subscription's delivery log, newest first, and the total."""
    where = " where subscription_id = $1 and ($2::text is null or status = $2)"
    rows = await conn.fetch(
        f"select {_DELIVERY} from webhook_deliveries{where} order by created_at desc, id limit $3 offset $4",
        subscription_id, status, limit, offset,
    )
    total = await total_of(
        len(rows), (limit, offset), lambda: conn.fetchval(f"select count(*) from webhook_deliveries{where}", subscription_id, status)
    )
    return await _with_attempts(conn, rows), total


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


# --- the worker ------------------------------------------------------------------------------------


async def next_due(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """The next delivery due to an active subscription, with its URL and secret, locked (replicas skip each other's)."""
    return await conn.fetchrow(
        "select d.id, d.body, d.attempts, d.event_type, s.id as subscription_id, s.url, s.secret, s.bank_id"
        " from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id"
        " where d.status = 'pending' and d.next_attempt_at <= $1 and s.status = 'active'"
        " order by d.next_attempt_at, d.created_at limit 1 for update of d skip locked",
        now,
    )


async def pending_by_subscription_status(conn: Connection) -> dict[str, int]:
    """Deliveries waiting, per their subscription's status (the `pending` partial index)."""
    rows = await conn.fetch(
        "select s.status, count(*) as n from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id"
        " where d.status = 'pending' group by s.status"
    )
    return {row["status"]: row["n"] for row in rows}


async def log_attempt(
    conn: asyncpg.Connection, delivery: UUID, now: datetime, status_code: int | None, error: str | None, latency_ms: int
) -> None:
    """One more line in the delivery's log."""
    await conn.execute(
        "insert into webhook_attempts (delivery_id, number, attempted_at, status_code, error, latency_ms)"
        " values ($1, (select count(*) + 1 from webhook_attempts where delivery_id = $1), $2, $3, $4, $5)",
        delivery, now, status_code, error, latency_ms,
    )


async def mark_delivered(
    conn: asyncpg.Connection, delivery: UUID, subscription_id: UUID, attempts: int, status_code: int | None, now: datetime
) -> None:
    """The bank answered 2xx: the delivery is done and the subscription's run of failures ends."""
    await conn.execute(
        "update webhook_deliveries set status = 'delivered', attempts = $2, delivered_at = $3, last_status_code = $4, last_error = null"
        " where id = $1",
        delivery, attempts, now, status_code,
    )
    await conn.execute("update webhook_subscriptions set consecutive_failures = 0 where id = $1", subscription_id)


async def mark_failed_attempt(
    conn: asyncpg.Connection, delivery: UUID, subscription_id: UUID, *, attempts: int, gave_up: bool, retry_at: datetime,
    status_code: int | None, error: str,
) -> int:
    """The attempt failed: the delivery waits for `retry_at` (or is given up); returns the subscription's failures in a row."""
    await conn.execute(
        "update webhook_deliveries set status = $2, attempts = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6 where id = $1",
        delivery, "failed" if gave_up else "pending", attempts, retry_at, status_code, error,
    )
    return int(await conn.fetchval(
        "update webhook_subscriptions set consecutive_failures = consecutive_failures + 1 where id = $1 returning consecutive_failures",
        subscription_id,
    ))


async def pause(conn: asyncpg.Connection, subscription_id: UUID, now: datetime) -> bool:
    """Pause an active subscription; False if it was not active any more."""
    return bool(await conn.fetchval(
        "update webhook_subscriptions set status = 'paused', paused_at = $2 where id = $1 and status = 'active' returning true",
        subscription_id, now,
    ))
