"""SQL of the close of business: its scope, its chunks' set-based statements (events built in SQL), its progress.

A run visits only the loans it may have to change: those with an instalment due and unpaid on the
business date (the partial index of unpaid instalments) and those whose stored summary says they are in
arrears (to bring them back to `current`). It walks them in loan-id order, a chunk of loans per
transaction: the chunk locks its loans (a payment waits at most one chunk), marks missed instalments,
updates the loans' days past due, arrears and stage, writes off the loans past the threshold, writes the
events of all of that to the outbox (built set-based in SQL, in the same statements) and records its
progress in `cob_runs`, all in one commit (how many loans the pass visits is counted when it takes its scope, so
another request can follow a run under way). Every change is conditional (`missed_on is null`, a stage
that differs, a loan still active), so a run interrupted at any point resumes after its last committed
chunk, and a second run for the same date changes and publishes nothing more. A resumed pass also visits
the loans before its resume point that are not closed for the date yet (opened while it was down). The run itself:
`usecases.close_business_day`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from uuid import UUID

import asyncpg

from services.servicing.domain import ChunkDone, Instalment, Loan
from services.servicing.repository.events_sql import Stamp, literal, outbox_insert
from shared.events import DelinquencyStageChanged, PaymentMissed
from shared.events.vocabulary import STAGE_BOUNDS, DelinquencyStage

RUN_LOCK = "servicing:close-of-business"
_NIL = UUID(int=0)


_OWNERSHIP = {"association_id": "e.association_id", "region": "e.region", "counsellor_id": "e.counsellor_id"}
# The stage of a row's `days_past_due` (DelinquencyStage.of in SQL, from the same bounds).
STAGE_CASE = (
    "case " + " ".join(f"when days_past_due <= {bound} then {literal(stage)}" for bound, stage in STAGE_BOUNDS)
    + f" else {literal(DelinquencyStage.OVER_90_DAYS)} end"
)
# In every chunk statement $1 is the chunk's loan ids (an array: the planner goes through the primary
# keys, never scans the million loans) and $2 the business date.
_IN_CHUNK = "s.loan_id = any($1::uuid[])"

_LOCK = "select id from loans where id = any($1::uuid[]) and status = 'active' order by id for update"

# $3: the last due date missed on this business date (grace days before it); $4 the event time, $5 the trace.
_MISSED = f"""
with missed as (
    update instalments i
       set missed_on = $2
      from cob_scope s, loans l
     where {_IN_CHUNK} and i.loan_id = s.loan_id and i.number = s.number
       and l.id = s.loan_id and l.status = 'active'
       and i.due_date <= $3 and i.paid_cents < i.amount_cents and i.missed_on is null
 returning i.loan_id, i.number, i.due_date, i.amount_cents, i.amount_cents - i.paid_cents as unpaid_cents,
           l.application_id, l.association_id, l.region, l.counsellor_id
), recorded as (
    insert into missed_instalments (loan_id, number, business_date, amount_unpaid_cents)
    select loan_id, number, $2, unpaid_cents from missed
    on conflict do nothing
), events as (
    {outbox_insert(PaymentMissed, "missed", "e.loan_id, e.number", {
        **_OWNERSHIP,
        "loan_id": "e.loan_id",
        "application_id": "e.application_id",
        "instalment_number": "e.number",
        "due_date": "e.due_date",
        "amount_due_cents": "e.amount_cents",
        "amount_unpaid_cents": "e.unpaid_cents",
        "business_date": "$2::date",
    }, time="$4", headers="$5")}
)
select count(*) from events
"""

# $3 the event time, $4 the trace.
_STAGES = f"""
with owed as (
    select i.loan_id, min(i.due_date) as oldest_due, sum(i.amount_cents - i.paid_cents)::int as arrears_cents
      from cob_scope s join instalments i on i.loan_id = s.loan_id and i.number = s.number
     where {_IN_CHUNK} and i.due_date <= $2 and i.paid_cents < i.amount_cents
     group by i.loan_id
), summary as (
    select l.id, l.delinquency_stage as previous_stage,
           coalesce($2::date - o.oldest_due, 0) as days_past_due, coalesce(o.arrears_cents, 0) as arrears_cents
      from loans l left join owed o on o.loan_id = l.id
     where l.id = any($1::uuid[]) and l.status = 'active'
), staged as (
    select summary.*, {STAGE_CASE} as stage from summary
), changed as (
    update loans l
       set days_past_due = s.days_past_due, arrears_cents = s.arrears_cents, delinquency_stage = s.stage
      from staged s
     where l.id = s.id
       and (l.days_past_due, l.arrears_cents, l.delinquency_stage) is distinct from (s.days_past_due, s.arrears_cents, s.stage)
 returning l.id as loan_id, l.application_id, l.association_id, l.region, l.counsellor_id,
           s.previous_stage, s.stage, s.days_past_due, s.arrears_cents
), stage_changes as (
    select * from changed where previous_stage <> stage
), events as (
    {outbox_insert(DelinquencyStageChanged, "stage_changes", "e.loan_id", {
        **_OWNERSHIP,
        "loan_id": "e.loan_id",
        "application_id": "e.application_id",
        "previous_stage": "e.previous_stage",
        "stage": "e.stage",
        "days_past_due": "e.days_past_due",
        "arrears_cents": "e.arrears_cents",
        "business_date": "$2::date",
    }, time="$3", headers="$4")}
)
select (select count(*) from changed) as updated, (select count(*) from events) as stage_changes
"""

_LOAN_COLUMNS = ", ".join(f"l.{name}" for name in Loan.model_fields)
_INSTALMENT_COLUMNS = ", ".join(Instalment.model_fields)
# $2: the write-off threshold in days past due (the stage statement has just updated them).
_TO_WRITE_OFF = f"""
select {_LOAN_COLUMNS} from loans l
 where l.id = any($1::uuid[]) and l.status = 'active' and l.days_past_due >= $2
 order by l.id
"""
_INSTALMENTS = f"select loan_id, {_INSTALMENT_COLUMNS} from instalments where loan_id = any($1::uuid[]) order by loan_id, number"
_WRITE_OFF = "update loans set status = $2, written_off_on = $3, principal_outstanding_cents = $4 where id = $1"

# $7: the loans of the chunk no longer active (not visited): the pass has that many fewer to visit.
_PROGRESS = """
update cob_runs
   set resume_after = greatest(resume_after, $2), chunks = chunks + 1, loans_visited = loans_visited + $3,
       missed = missed + $4, stage_changes = stage_changes + $5, written_off = written_off + $6,
       loans_to_visit = loans_to_visit - $7
 where business_date = $1
returning chunks
"""

# Instalments due and unpaid on the date, of active loans, and loans stored as in arrears: all the run may change.
# One simple-protocol script (no parameters): the date is a literal. The planner cannot know that the
# instalments both due and unpaid are a few in a hundred (it guesses millions and scans the whole table):
# the partial index of unpaid instalments is the only sane way in.
_SCOPE = """
set local enable_seqscan = off;
set local enable_hashjoin = off;
set local enable_mergejoin = off;
set local jit = off;
create temporary table cob_scope (loan_id uuid not null, number integer);
insert into cob_scope
select i.loan_id, i.number
  from instalments i join loans l on l.id = i.loan_id
 where i.due_date <= {business_date} and i.paid_cents < i.amount_cents and l.status = 'active'
union all
select id, null from loans
 where status = 'active' and (days_past_due > 0 or arrears_cents > 0);
create index on cob_scope (loan_id);
"""

# A resumed pass: the loans up to where it stopped that are already closed for the date leave the scope, the
# others stay: loans opened (or fallen behind) since the interruption, whatever their id. Closed for the date:
# nothing left to mark missed, and the stored summary is the one the date gives (what a visit leaves behind).
_ALREADY_CLOSED = """
with owed as (
    select s.loan_id, min(i.due_date) as oldest_due, sum(i.amount_cents - i.paid_cents) as arrears_cents,
           bool_or(i.missed_on is null and i.due_date <= {missed_by}) as to_mark
      from cob_scope s join instalments i on i.loan_id = s.loan_id and i.number = s.number
     where s.loan_id <= {resume_after}
     group by s.loan_id
), summary as (
    select l.id, l.days_past_due as stored_days, l.arrears_cents as stored_arrears, l.delinquency_stage as stored_stage,
           coalesce({business_date} - o.oldest_due, 0) as days_past_due, coalesce(o.arrears_cents, 0) as arrears_cents,
           coalesce(o.to_mark, false) as to_mark
      from loans l left join owed o on o.loan_id = l.id
     where l.id in (select loan_id from cob_scope where loan_id <= {resume_after})
), closed as (
    select id from summary
     where not to_mark and (stored_days, stored_arrears, stored_stage) = (days_past_due, arrears_cents, {stage})
)
delete from cob_scope where loan_id in (select id from closed);
"""


def _date_literal(value: date) -> str:
    return f"date {literal(value.isoformat())}"


async def begin(conn: asyncpg.Connection, business_date: date, now: datetime) -> tuple[UUID | None, bool]:
    """Start a pass for the date, or resume the unfinished one: return (its resume point, resumed)."""
    async with conn.transaction():
        run = await conn.fetchrow(
            "select finished_at, resume_after, chunks from cob_runs where business_date = $1 for update", business_date
        )
        if run is None:
            await conn.execute(
                "insert into cob_runs (business_date, started_at, passes) values ($1, $2, 1)", business_date, now
            )
            return None, False
        if run["finished_at"] is None:
            return run["resume_after"], run["chunks"] > 0
        # A finished date run again: a new pass over everything, whose conditions make it change nothing
        # already done (it only catches up loans that appeared since, e.g. disbursed after the first pass).
        await conn.execute(
            "update cob_runs set passes = passes + 1, started_at = $2, finished_at = null, resume_after = null,"
            " chunks = 0, loans_visited = 0, loans_to_visit = null where business_date = $1",
            business_date, now,
        )
        return None, False


async def next_chunk(conn: asyncpg.Connection, after: UUID | None, size: int) -> list[UUID]:
    """The ids of the next `size` loans of the scope after `after`, in order (empty: nothing left)."""
    op = ">" if after is not None else ">="
    rows = await conn.fetch(
        f"select distinct loan_id from cob_scope where loan_id {op} $1 order by loan_id limit $2", after or _NIL, size
    )
    return [r["loan_id"] for r in rows]


@asynccontextmanager
async def exclusive_run(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Serialise runs (a second waits for the first to end), and drop the run's scope whatever happens."""
    await conn.execute("select pg_advisory_lock(hashtext($1))", RUN_LOCK)
    try:
        yield
    finally:
        await conn.execute("drop table if exists cob_scope")
        await conn.execute("select pg_advisory_unlock(hashtext($1))", RUN_LOCK)


async def take_scope(conn: asyncpg.Connection, business_date: date, missed_by: date, resume_after: UUID | None) -> None:
    """Gather what the pass may change in the session's `cob_scope` table, and count its loans as the pass's
    `loans_to_visit` (with those a resumed pass has already visited).

    A resumed pass (`resume_after`: the highest loan id its committed chunks reached) keeps every loan after that
    id, and those up to it that it has not closed for the date yet: a loan opened while the run was down is
    visited whatever its id.
    """
    await conn.execute("drop table if exists cob_scope")
    day = _date_literal(business_date)
    script = _SCOPE.format(business_date=day)
    if resume_after is not None:
        script += _ALREADY_CLOSED.format(
            business_date=day, missed_by=_date_literal(missed_by), resume_after=f"{literal(str(resume_after))}::uuid",
            stage=STAGE_CASE,
        )
    async with conn.transaction():
        await conn.execute(script + "analyze cob_scope;")
        await conn.execute(
            "update cob_runs set loans_to_visit = loans_visited + (select count(distinct loan_id) from cob_scope)"
            " where business_date = $1",
            business_date,
        )


async def lock_loans(conn: asyncpg.Connection, ids: list[UUID]) -> list[UUID]:
    """Lock the chunk's loans still active, in the caller's transaction; their ids."""
    # Short set-based statements on a few thousand rows: compiling them (JIT) costs more than it saves,
    # and their sorts fit in memory.
    await conn.execute("set local jit = off; set local work_mem = '32MB'")
    return [r["id"] for r in await conn.fetch(_LOCK, ids)]


async def mark_missed(conn: asyncpg.Connection, ids: list[UUID], business_date: date, missed_by: date, stamp: Stamp) -> int:
    """Mark missed the instalments due by `missed_by` and unpaid, once each, with their `payment missed` events."""
    return int(await conn.fetchval(_MISSED, ids, business_date, missed_by, stamp.time, stamp.headers))


async def update_stages(conn: asyncpg.Connection, ids: list[UUID], business_date: date, stamp: Stamp) -> int:
    """Set the loans' days past due, arrears and stage; a `delinquency stage changed` event per change of stage."""
    row = await conn.fetchrow(_STAGES, ids, business_date, stamp.time, stamp.headers)
    return int(row["stage_changes"])


async def loans_to_write_off(conn: asyncpg.Connection, ids: list[UUID], threshold: int) -> list[tuple[Loan, list[Instalment]]]:
    """The chunk's active loans at least `threshold` days past due, each with its schedule."""
    loans = [Loan(**dict(r)) for r in await conn.fetch(_TO_WRITE_OFF, ids, threshold)]
    schedules: dict[UUID, list[Instalment]] = {loan.id: [] for loan in loans}
    if loans:
        for row in await conn.fetch(_INSTALMENTS, list(schedules)):
            values = dict(row)
            schedules[values.pop("loan_id")].append(Instalment(**values))
    return [(loan, schedules[loan.id]) for loan in loans]


async def save_write_offs(conn: asyncpg.Connection, loans: Sequence[Loan]) -> None:
    """Persist loans written off."""
    if loans:
        await conn.executemany(
            _WRITE_OFF, [(w.id, w.status.value, w.written_off_on, w.principal_outstanding_cents) for w in loans]
        )


async def record_progress(conn: asyncpg.Connection, business_date: date, ids: list[UUID], done: ChunkDone) -> int:
    """Count a chunk of loans `ids` in the run's progress, in its transaction; its number.

    The pass's resume point is the highest loan id a committed chunk reached (a resumed pass walks its scope
    from the start again: the loans it revisits below that point are the ones it still has to close).
    """
    skipped = len(ids) - done.loans
    return int(
        await conn.fetchval(
            _PROGRESS, business_date, ids[-1], done.loans, done.missed, done.stage_changes, done.written_off, skipped
        )
    )


async def finish(conn: asyncpg.Connection, business_date: date, now: datetime) -> None:
    """Mark the date's run finished."""
    await conn.execute("update cob_runs set finished_at = $2, resume_after = null where business_date = $1", business_date, now)
