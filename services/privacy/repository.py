"""SQL for the privacy service's own tables: the subjects' ledger, the erasures, the retention runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.privacy.domain import RANK, Status, Subject

Connection = asyncpg.Connection | asyncpg.Pool
_NIL = UUID(int=0)
_SUBJECT = (
    "select subject_id, association_id, region, status, loan_id, last_activity_at, approved_at, ended_on,"
    " restricted_at, erased_at from subjects"
)
# The status moves on only to a later step of the lifecycle; the last activity only forward.
_RANK_SQL = "case {col} " + " ".join(f"when '{s.value}' then {r}" for s, r in RANK.items()) + " end"


def _subject(row: asyncpg.Record) -> Subject:
    return Subject(**{**dict(row), "status": Status(row["status"])})


# Upsert what a stream said of a file ($4 None: only its activity); a replay or an older fact changes nothing.
_RECORD = (
    "insert into subjects (subject_id, association_id, region, status, loan_id, last_activity_at, approved_at, ended_on)"
    " values ($1, $2, $3, coalesce($4, 'submitted'), $5, $6, $7, $8)"
    " on conflict (subject_id) do update set"
    f"  status = case when $4 is not null and {_RANK_SQL.format(col='$4::text')} >= {_RANK_SQL.format(col='subjects.status')}"
    "   then $4 else subjects.status end,"
    "  loan_id = coalesce(subjects.loan_id, excluded.loan_id),"
    "  last_activity_at = greatest(subjects.last_activity_at, excluded.last_activity_at),"
    "  approved_at = coalesce(subjects.approved_at, excluded.approved_at),"
    "  ended_on = coalesce(subjects.ended_on, excluded.ended_on)"
)
LedgerFact = tuple[UUID, str, str, str | None, UUID | None, datetime, datetime | None, date | None]


def ledger_fact(
    subject_id: UUID, *, association_id: str, region: str, status: Status | None, at: datetime,
    loan_id: UUID | None = None, approved_at: datetime | None = None, ended_on: date | None = None,
) -> LedgerFact:
    """What a stream said of a file (`status` None: only its activity), as `record_many` records it."""
    return subject_id, association_id, region, status.value if status else None, loan_id, at, approved_at, ended_on


async def record_many(conn: asyncpg.Connection, facts: Sequence[LedgerFact]) -> None:
    """Record what the streams said of files, in one pipelined round trip and in order: the same file twice is recorded
    as one fact after the other (one multi-row upsert could not touch a row twice); a replay or an older fact changes
    nothing."""
    if facts:
        await conn.executemany(_RECORD, facts)


async def get(conn: Connection, subject_id: UUID, *, lock: bool = False) -> Subject | None:
    """One subject's ledger row (locked until the transaction ends with `lock`), or None."""
    row = await conn.fetchrow(f"{_SUBJECT} where subject_id = $1{' for update' if lock else ''}", subject_id)
    return _subject(row) if row else None


async def erasure(conn: Connection, subject_id: UUID) -> dict[str, Any] | None:
    """What was done to the subject's data, if it was erased or anonymised."""
    row = await conn.fetchrow(
        "select erased_at, kind, rule, run_date, requested_by, key_destroyed from erasures where subject_id = $1", subject_id
    )
    return dict(row) if row else None


async def set_restriction(conn: Connection, subject_id: UUID, *, at: datetime | None, by: str | None) -> bool:
    """Restrict the processing of the subject's data (`at` given) or lift the restriction; False when it already was so."""
    changed = await conn.fetchval(
        "update subjects set restricted_at = $2, restricted_by = $3"
        " where subject_id = $1 and (restricted_at is null) <> ($2::timestamptz is null) returning true",
        subject_id, at, by,
    )
    return bool(changed)


async def save_erasure(
    conn: asyncpg.Connection, subject_id: UUID, *, at: datetime, kind: str, rule: str, run_date: date | None,
    requested_by: str | None, key_destroyed: bool,
) -> bool:
    """Record the erasure once; False when the subject was already erased (nothing written)."""
    inserted = await conn.fetchval(
        "insert into erasures (subject_id, erased_at, kind, rule, run_date, requested_by, key_destroyed)"
        " values ($1, $2, $3, $4, $5, $6, $7) on conflict (subject_id) do nothing returning true",
        subject_id, at, kind, rule, run_date, requested_by, key_destroyed,
    )
    if inserted:
        await conn.execute("update subjects set erased_at = $2 where subject_id = $1", subject_id, at)
    return bool(inserted)


# --- retention runs -------------------------------------------------------------------------------


async def begin_run(conn: asyncpg.Connection, run_date: date, now: datetime, rules: dict[str, Any]) -> UUID:
    """Start (or resume) the run of `run_date`: where its pass resumes (the nil UUID: from the start)."""
    row = await conn.fetchrow(
        "insert into retention_runs (run_date, started_at, rules, passes) values ($1, $2, $3::jsonb, 1)"
        " on conflict (run_date) do update set passes = retention_runs.passes + 1, finished_at = null"
        " returning resume_after",
        run_date, now, json.dumps(rules),
    )
    return row["resume_after"] or _NIL


async def chunk(conn: asyncpg.Connection, after: UUID, size: int) -> list[Subject]:
    """The next `size` subjects not erased after `after`, locked in id order."""
    rows = await conn.fetch(
        f"{_SUBJECT} where erased_at is null and subject_id > $1 order by subject_id limit $2 for update", after, size
    )
    return [_subject(r) for r in rows]


async def chunk_done(
    conn: asyncpg.Connection, run_date: date, last: UUID, *, reviewed: int, erased: int, anonymised: int, held: int,
) -> None:
    """Record a chunk's progress in the chunk's own transaction."""
    await conn.execute(
        "update retention_runs set resume_after = $2, chunks = chunks + 1, reviewed = reviewed + $3,"
        " erased = erased + $4, anonymised = anonymised + $5, held = held + $6 where run_date = $1",
        run_date, last, reviewed, erased, anonymised, held,
    )


async def finish_run(conn: asyncpg.Connection, run_date: date, now: datetime) -> None:
    """The pass went through every subject: the run is finished; a next pass starts from the beginning."""
    await conn.execute("update retention_runs set finished_at = $2, resume_after = null where run_date = $1", run_date, now)


_RUN = (
    "select run_date, case when finished_at is null then 'running' else 'finished' end as status, started_at, finished_at,"
    " passes, chunks, reviewed, erased, anonymised, held, rules from retention_runs"
)


def _run(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "rules": json.loads(row["rules"])}


async def runs(conn: Connection, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of the runs, newest first, and how many there are."""
    rows = await conn.fetch(f"{_RUN} order by run_date desc limit $1 offset $2", limit, offset)
    return [_run(r) for r in rows], await conn.fetchval("select count(*) from retention_runs")


async def run(conn: Connection, run_date: date) -> dict[str, Any] | None:
    """One run, with each subject it erased or anonymised and by which rule."""
    row = await conn.fetchrow(f"{_RUN} where run_date = $1", run_date)
    if row is None:
        return None
    done = await conn.fetch(
        "select e.subject_id, e.kind, e.rule, e.erased_at, s.association_id, s.region, e.key_destroyed"
        " from erasures e join subjects s using (subject_id) where e.run_date = $1 order by e.erased_at, e.subject_id",
        run_date,
    )
    return {**_run(row), "subjects": [dict(r) for r in done]}
