"""SQL for assessment's own tables."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.assessment.domain import Assessment

_FIELDS = tuple(Assessment.model_fields)
_UPSERT = (
    f"insert into assessments ({', '.join(_FIELDS)}) values ({', '.join(f'${i}' for i in range(1, len(_FIELDS) + 1))})"
    f" on conflict (application_id) do update set "
    + ", ".join(f"{f} = excluded.{f}" for f in _FIELDS if f != "application_id")
)


async def save(conn: asyncpg.Connection, assessment: Assessment) -> None:
    """Insert or update an assessment."""
    values = assessment.model_dump()
    await conn.execute(_UPSERT, *(values[f] for f in _FIELDS))


async def get(conn: asyncpg.Connection | asyncpg.Pool, application_id: UUID, *, for_update: bool = False) -> Assessment | None:
    """One assessment, optionally locked for the rest of the transaction."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"select * from assessments where application_id = $1{lock}", application_id)
    return Assessment(**dict(row)) if row else None
