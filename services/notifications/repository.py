"""SQL for the alerts table: insert once per cause and audience, the inbox's queries, the timers' due rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from services.notifications.domain import Alert

_FIELDS = tuple(Alert.model_fields)
_COLUMNS = ", ".join(_FIELDS)
_INSERT = (
    f"insert into alerts ({_COLUMNS}) values ({', '.join(f'${i}' for i in range(1, len(_FIELDS) + 1))})"
    " on conflict do nothing returning true"
)
# What the inbox's actions and the timers may change.
_MUTABLE = (
    "status", "escalate_at", "escalated_at", "acknowledged_at", "acknowledged_by",
    "resolved_at", "resolved_by", "resolution_note", "snoozed_until", "reminded_at",
)
_UPDATE = f"update alerts set {', '.join(f'{c} = ${i}' for i, c in enumerate(_MUTABLE, start=2))} where id = $1"

Connection = asyncpg.Connection | asyncpg.Pool


def _alert(row: asyncpg.Record) -> Alert:
    return Alert(**dict(row))


async def insert(conn: asyncpg.Connection, alert: Alert) -> bool:
    """Store an alert; False if its cause already raised one for that audience."""
    values = alert.model_dump()
    return bool(await conn.fetchval(_INSERT, *(values[f] for f in _FIELDS)))


async def get(conn: Connection, alert_id: UUID, *, for_update: bool = False) -> Alert | None:
    """One alert, or None; `for_update` locks it for the caller's transaction."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"select {_COLUMNS} from alerts where id = $1{lock}", alert_id)
    return _alert(row) if row else None


async def save(conn: asyncpg.Connection, alert: Alert) -> None:
    """Write what an action or a timer changed."""
    values = alert.model_dump()
    await conn.execute(_UPDATE, alert.id, *(values[c] for c in _MUTABLE))


@dataclass(frozen=True)
class InboxQuery:
    """Which alerts of an association to list, and which page."""

    association_id: str
    viewer_counsellor: str | None  # a counsellor sees their own and the shared queue; None for supervisors
    counsellor_id: str | None = None
    status: str | None = None
    severity: str | None = None
    audience: str | None = None
    loan_id: UUID | None = None
    application_id: UUID | None = None
    cause_type: str | None = None
    limit: int = 50
    offset: int = 0


_WHERE = (
    " where association_id = $1"
    " and ($2::text is null or audience = 'association' or (audience = 'counsellor' and counsellor_id = $2))"
    " and ($3::text is null or counsellor_id = $3) and ($4::text is null or status = $4)"
    " and ($5::text is null or severity = $5) and ($6::text is null or audience = $6)"
    " and ($7::uuid is null or loan_id = $7) and ($8::uuid is null or application_id = $8)"
    " and ($9::text is null or cause_type = $9)"
)


async def search(conn: Connection, q: InboxQuery) -> tuple[list[Alert], int]:
    """A page of the inbox, newest first, and how many alerts match in all."""
    args = (
        q.association_id, q.viewer_counsellor, q.counsellor_id, q.status, q.severity, q.audience, q.loan_id, q.application_id, q.cause_type,
    )
    rows = await conn.fetch(
        f"select {_COLUMNS} from alerts{_WHERE} order by raised_at desc, id limit $10 offset $11", *args, q.limit, q.offset
    )
    total = await conn.fetchval(f"select count(*) from alerts{_WHERE}", *args)
    return [_alert(r) for r in rows], int(total)


async def due_for_escalation(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Alert]:
    """Open alerts past their escalation deadline, locked (replicas skip each other's)."""
    rows = await conn.fetch(
        f"select {_COLUMNS} from alerts where status = 'open' and escalated_at is null and escalate_at <= $1"
        " order by escalate_at limit $2 for update skip locked",
        now, limit,
    )
    return [_alert(r) for r in rows]


async def due_for_wake_up(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Alert]:
    """Snoozed alerts whose day has come, locked."""
    rows = await conn.fetch(
        f"select {_COLUMNS} from alerts where status = 'snoozed' and snoozed_until <= $1"
        " order by snoozed_until limit $2 for update skip locked",
        now, limit,
    )
    return [_alert(r) for r in rows]


async def many(conn: Connection, alert_ids: list[UUID]) -> list[Alert]:
    """Alerts by id, oldest first."""
    rows = await conn.fetch(f"select {_COLUMNS} from alerts where id = any($1::uuid[]) order by raised_at, id", alert_ids)
    return [_alert(r) for r in rows]
