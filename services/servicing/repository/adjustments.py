"""SQL for adjustments and the versions a loan's schedule had before the current one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.servicing.domain import Adjustment, Instalment, Loan

_FIELDS = tuple(Adjustment.model_fields)
_SELECT = f"select {', '.join(_FIELDS)} from adjustments"
_INSERT = "insert into adjustments ({}) values ({})".format(", ".join(_FIELDS), ", ".join(f"${i}" for i in range(1, len(_FIELDS) + 1)))


def _adjustment(row: asyncpg.Record) -> Adjustment:
    values = dict(row)
    values["terms"] = json.loads(values["terms"])
    return Adjustment(**values)


async def insert_adjustment(conn: asyncpg.Connection, adjustment: Adjustment) -> None:
    """Store a requested adjustment."""
    values = adjustment.model_dump()
    values["terms"] = adjustment.terms.model_dump_json(exclude_none=True)
    await conn.execute(_INSERT, *(values[f] for f in _FIELDS))


async def get_adjustment(
    conn: asyncpg.Connection, loan_id: UUID, adjustment_id: UUID, *, for_update: bool = False
) -> Adjustment | None:
    """One adjustment of a loan."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"{_SELECT} where loan_id = $1 and id = $2{lock}", loan_id, adjustment_id)
    return _adjustment(row) if row else None


async def open_adjustment(conn: asyncpg.Connection, loan_id: UUID) -> Adjustment | None:
    """The request of a loan still waiting for the bank's answer, if any."""
    row = await conn.fetchrow(f"{_SELECT} where loan_id = $1 and status = 'requested'", loan_id)
    return _adjustment(row) if row else None


async def adjustments(conn: asyncpg.Pool, loan_id: UUID, *, limit: int, offset: int) -> tuple[list[Adjustment], int]:
    """A page of a loan's adjustments, oldest first, and how many it has in all."""
    total = await conn.fetchval("select count(*) from adjustments where loan_id = $1", loan_id)
    rows = await conn.fetch(f"{_SELECT} where loan_id = $1 order by requested_at, id limit $2 offset $3", loan_id, limit, offset)
    return [_adjustment(r) for r in rows], total


async def save_answer(conn: asyncpg.Connection, adjustment: Adjustment) -> None:
    """Record the bank's answer to an adjustment."""
    await conn.execute(
        "update adjustments set status = $2, answered_by = $3, answered_at = $4, answer_reason = $5, schedule_version = $6"
        " where id = $1",
        adjustment.id, adjustment.status, adjustment.answered_by, adjustment.answered_at, adjustment.answer_reason,
        adjustment.schedule_version,
    )


async def archive_version(conn: asyncpg.Connection, loan: Loan, lines: Sequence[Instalment]) -> None:
    """Keep the loan's current schedule, as it stands, before a new version replaces it."""
    made_by, made_at = await current_version_origin(conn, loan)
    await conn.execute(
        "insert into schedule_versions (loan_id, version, adjustment_id, created_at, lines) values ($1, $2, $3, $4, $5::jsonb)",
        loan.id, loan.schedule_version, made_by, made_at, json.dumps([line.model_dump(mode="json") for line in lines]),
    )


async def schedule_versions(conn: asyncpg.Pool, loan_id: UUID, first: int, last: int) -> list[dict[str, Any]]:
    """The versions `first` to `last` a loan's schedule had before the current one, oldest first."""
    rows = await conn.fetch(
        "select version, adjustment_id, created_at, lines from schedule_versions"
        " where loan_id = $1 and version between $2 and $3 order by version",
        loan_id, first, last,
    )
    return [{**dict(r), "lines": [Instalment(**line) for line in json.loads(r["lines"])]} for r in rows]


async def current_version_origin(conn: asyncpg.Connection | asyncpg.Pool, loan: Loan) -> tuple[UUID | None, datetime]:
    """The adjustment that made the current schedule (None: the original) and when."""
    row = await conn.fetchrow(
        "select id, answered_at from adjustments where loan_id = $1 and status = 'accepted' and schedule_version = $2",
        loan.id, loan.schedule_version,
    )
    return (row["id"], row["answered_at"]) if row else (None, loan.created_at)
