"""SQL for notifications' own tables."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.notifications.domain import Alert

_FIELDS = tuple(Alert.model_fields)
_INSERT = (
    f"insert into alerts ({', '.join(_FIELDS)}) values ({', '.join(f'${i}' for i in range(1, len(_FIELDS) + 1))})"
    " on conflict (cause_event_id) do nothing returning true"
)


async def insert(conn: asyncpg.Connection, alert: Alert) -> bool:
    """Store an alert; False if its cause already raised one."""
    values = alert.model_dump()
    return bool(await conn.fetchval(_INSERT, *(values[f] for f in _FIELDS)))


async def get(conn: asyncpg.Pool, alert_id: UUID) -> Alert | None:
    """One alert, or None."""
    row = await conn.fetchrow(f"select {', '.join(_FIELDS)} from alerts where id = $1", alert_id)
    return Alert(**dict(row)) if row else None


async def search(
    conn: asyncpg.Pool, *, association_id: str, counsellor_id: str | None, loan_id: UUID | None, limit: int, offset: int
) -> list[Alert]:
    """An association's alerts (optionally one counsellor's, one loan's), newest first."""
    rows = await conn.fetch(
        f"select {', '.join(_FIELDS)} from alerts where association_id = $1"
        " and ($2::text is null or counsellor_id = $2) and ($3::uuid is null or loan_id = $3)"
        " order by raised_at desc, id limit $4 offset $5",
        association_id, counsellor_id, loan_id, limit, offset,
    )
    return [Alert(**dict(r)) for r in rows]
