"""SQL reading the close-of-business runs recorded in `cob_runs`, also while one is under way (each chunk commits its progress)."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.servicing.domain import RecordedRun

_SELECT = """
select business_date, case when finished_at is null then 'running' else 'finished' end as status,
       started_at, finished_at, loans_to_visit, loans_visited, chunks,
       missed as missed_instalments, stage_changes, written_off, passes
  from cob_runs
"""


async def cob_runs(pool: asyncpg.Pool, *, limit: int, offset: int) -> tuple[list[RecordedRun], int]:
    """A page of the runs, newest business date first, and how many there are in all."""
    total = await pool.fetchval("select count(*) from cob_runs")
    rows = await pool.fetch(f"{_SELECT} order by business_date desc limit $1 offset $2", limit, offset)
    return [RecordedRun(**dict(r)) for r in rows], total


async def cob_run(pool: asyncpg.Pool, business_date: date) -> RecordedRun | None:
    """The run of `business_date`, if the close of business was ever started for it."""
    row = await pool.fetchrow(f"{_SELECT} where business_date = $1", business_date)
    return RecordedRun(**dict(row)) if row else None
