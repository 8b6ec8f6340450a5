"""SQL for the directory's own tables: the entities, their audit trail, and the files waiting for a bank's decision."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from services.directory.domain.changes import AuditEntry, Change, Stored
from services.directory.domain.entities import Kind
from shared.http import total_of
from shared.privacy.access import rows as privacy_rows

Connection = asyncpg.Connection | asyncpg.Pool


def _stored(kind: Kind, row: asyncpg.Record) -> Stored:
    return Stored(kind, row["id"], json.loads(row["state"]), row["active"], row["version"], row["updated_at"])


async def lock(conn: asyncpg.Connection, kind: Kind, entity_id: str) -> None:
    """Serialise the changes of one entity until the transaction ends (two first `PUT`s create it once)."""
    await conn.execute("select pg_advisory_xact_lock(hashtext($1))", f"directory:{kind.name}:{entity_id}")


async def get(conn: Connection, kind: Kind, entity_id: str) -> Stored | None:
    """One entity, or None."""
    row = await conn.fetchrow("select * from entities where kind = $1 and id = $2", kind.name, entity_id)
    return _stored(kind, row) if row else None


async def existing(conn: Connection, kind: Kind, ids: list[str]) -> set[str]:
    """Which of `ids` the directory holds (active or not)."""
    rows = await conn.fetch("select id from entities where kind = $1 and id = any($2::text[])", kind.name, ids)
    return {r["id"] for r in rows}


async def listing(
    conn: Connection, kind: Kind, *, matching: dict[str, Any], active: bool | None, limit: int, offset: int
) -> tuple[list[Stored], int]:
    """A page of entities whose state contains `matching`, by id, and how many match in all."""
    where = "kind = $1 and state @> $2::jsonb and ($3::boolean is null or active = $3)"
    args = (kind.name, json.dumps(matching), active)
    rows = await conn.fetch(f"select * from entities where {where} order by id limit $4 offset $5", *args, limit, offset)
    total = await total_of(len(rows), (limit, offset), lambda: conn.fetchval(f"select count(*) from entities where {where}", *args))
    return [_stored(kind, r) for r in rows], total


async def count_active(conn: Connection, kind: Kind, matching: dict[str, Any]) -> int:
    """How many active entities' state contains `matching`."""
    return await conn.fetchval(
        "select count(*) from entities where kind = $1 and active and state @> $2::jsonb", kind.name, json.dumps(matching)
    )


async def save(conn: asyncpg.Connection, change: Change) -> None:
    """Store the entity's new state and the audit entry of the change."""
    s, a = change.stored, change.audit
    await conn.execute(
        "insert into entities (kind, id, state, active, version, updated_at) values ($1, $2, $3::jsonb, $4, $5, $6)"
        " on conflict (kind, id) do update set state = excluded.state, active = excluded.active,"
        " version = excluded.version, updated_at = excluded.updated_at",
        s.kind.name, s.id, json.dumps(s.state), s.active, s.version, s.updated_at,
    )
    await conn.execute(
        "insert into audit (kind, entity_id, at, actor, actor_role, action, before, after)"
        " values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)",
        s.kind.name, s.id, a.at, a.actor, a.actor_role, a.action,
        None if a.before is None else json.dumps(a.before), json.dumps(a.after),
    )


async def audit_trail(conn: Connection, kind: Kind, entity_id: str, *, limit: int, offset: int) -> tuple[list[AuditEntry], int]:
    """A page of the entity's changes, oldest first, and how many there are."""
    rows = await conn.fetch(
        "select at, actor, actor_role, action, before, after from audit where kind = $1 and entity_id = $2"
        " order by id limit $3 offset $4",
        kind.name, entity_id, limit, offset,
    )
    total = await conn.fetchval("select count(*) from audit where kind = $1 and entity_id = $2", kind.name, entity_id)
    entries = [
        AuditEntry(**{**dict(r), "before": json.loads(r["before"]) if r["before"] else None, "after": json.loads(r["after"])})
        for r in rows
    ]
    return entries, total


async def file_routed(conn: asyncpg.Connection, application_id: UUID, bank_id: str) -> None:
    """A file now waits for `bank_id`'s decision (a replay of its routing changes nothing)."""
    await conn.execute(
        "insert into routed_files (application_id, bank_id) values ($1, $2) on conflict (application_id) do nothing",
        application_id, bank_id,
    )


async def file_decided(conn: asyncpg.Connection, application_id: UUID, bank_id: str) -> None:
    """The bank decided: the file waits no more."""
    await conn.execute(
        "insert into routed_files (application_id, bank_id, closed) values ($1, $2, true)"
        " on conflict (application_id) do update set closed = true",
        application_id, bank_id,
    )


async def file_withdrawn(conn: asyncpg.Connection, application_id: UUID) -> None:
    """The applicant withdrew: the file, if it was routed, waits no more."""
    await conn.execute("update routed_files set closed = true where application_id = $1", application_id)


async def subject_records(conn: Connection, application_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """What the directory holds about one file (right of access): which bank it was routed to, and whether it is closed."""
    return {"routed_files": await privacy_rows(conn, "select * from routed_files where application_id = $1", application_id)}


async def files_waiting(conn: Connection, bank_id: str) -> int:
    """How many files wait for `bank_id`'s decision."""
    return await conn.fetchval("select count(*) from routed_files where bank_id = $1 and not closed", bank_id)
