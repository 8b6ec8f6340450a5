"""SQL of the close of business: its scope, its chunks' set-based statements (events built in SQL), its progress.

A run visits only the loans it may have to change: those with an instalment due and unpaid on the
business date (the partial index of unpaid instalments) and those whose stored summary says they are in
arrears (to bring them back to `current`; they are listed in `loans_in_arrears`, so that no index of the
loans covers the summary it updates, and Postgres updates each loan in place). It walks them in loan-id order, a chunk of loans per
transaction: the chunk locks its loans (a payment waits at most one chunk), then one statement marks the
missed instalments, updates the loans' days past due, arrears and stage, writes the events of all of that
to the outbox (built set-based in SQL, in publication order) and records the chunk's progress in
`cob_runs`; the few loans past the write-off threshold go through the domain's rule and one more
statement; all in one commit (how many loans the pass visits is counted when it takes its scope, so
another request can follow a run under way). Every change is conditional (`missed_on is null`, a stage
that differs, a loan still active), so a run interrupted at any point resumes after its last committed
chunk, and a second run for the same date changes and publishes nothing more. A resumed pass also visits
the loans before its resume point that are not closed for the date yet (opened while it was down). The
run itself: `usecases.close_business_day`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from services.servicing.domain import Instalment, Loan
from services.servicing.repository.events_sql import Stamp, literal, outbox_rows
from shared.events import DelinquencyStageChanged, LoanWrittenOff, PaymentMissed
from shared.events.vocabulary import STAGE_BOUNDS, DelinquencyStage
from shared.outbox import NOTIFY

RUN_LOCK = "servicing:close-of-business"
_NIL = UUID(int=0)

_OWNERSHIP = {"association_id": "e.association_id", "region": "e.region", "counsellor_id": "e.counsellor_id"}
# The stage of a row's `days_past_due` (DelinquencyStage.of in SQL, from the same bounds).
STAGE_CASE = (
    "case " + " ".join(f"when days_past_due <= {bound} then {literal(stage)}" for bound, stage in STAGE_BOUNDS)
    + f" else {literal(DelinquencyStage.OVER_90_DAYS)} end"
)

# The next `$2` loans of the scope after `$1` (from the nil UUID included for the first), and those still
# active, locked in id order: the chunk's statements then read them as the payments committed left them.
_TAKE = """
with chunk as (
    select distinct loan_id from cob_scope where loan_id {op} $1 order by loan_id limit $2
), locked as (
    select id from loans where id in (select loan_id from chunk) and status = 'active' order by id for update
)
select array(select loan_id from chunk order by loan_id) as ids, array(select id from locked order by id) as locked
"""

# $1: the chunk's locked (active) loan ids, an array: the planner goes through the primary keys, never scans
# the million loans. $2 the business date, $3 the last due date missed on it (grace days before), $4 the
# event time, $5 the trace, $6 and $9 the chunk's first and last loan ids (its range of the scope), $7 its
# loans no longer active (not visited: the pass has that many fewer to visit), $8 the write-off threshold in
# days past due.
_CLOSE = f"""
with lines as (
    -- The chunk's instalments due and unpaid, read once for the missed ones and the arrears.
    select i.loan_id, i.number, i.due_date, i.amount_cents, i.paid_cents
      from cob_scope s join instalments i on i.loan_id = s.loan_id and i.number = s.number
     where s.loan_id between $9 and $6 and i.due_date <= $2 and i.paid_cents < i.amount_cents
), missed as (
    update instalments i
       set missed_on = $2
      from lines x, loans l
     where i.loan_id = x.loan_id and i.number = x.number and x.due_date <= $3
       and l.id = x.loan_id and l.id = any($1::uuid[]) and l.status = 'active'
       and i.due_date <= $3 and i.paid_cents < i.amount_cents and i.missed_on is null
 returning i.loan_id, i.number, i.due_date, i.amount_cents, i.amount_cents - i.paid_cents as unpaid_cents,
           l.application_id, l.association_id, l.region, l.counsellor_id
), recorded as (
    insert into missed_instalments (loan_id, number, business_date, amount_unpaid_cents)
    select loan_id, number, $2, unpaid_cents from missed
    on conflict do nothing
), owed as (
    select loan_id, min(due_date) as oldest_due, sum(amount_cents - paid_cents)::int as arrears_cents
      from lines
     group by loan_id
), summary as (
    select l.id, l.delinquency_stage as previous_stage, l.days_past_due > 0 or l.arrears_cents > 0 as was_in_arrears,
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
), fallen_behind as (
    insert into loans_in_arrears (loan_id)
    select id from staged where (days_past_due > 0 or arrears_cents > 0) and not was_in_arrears
    on conflict do nothing
), caught_up as (
    delete from loans_in_arrears where loan_id in (select id from staged where days_past_due = 0 and arrears_cents = 0)
), events as (
    -- Each loan's events in the order they happened: its missed instalments, then its change of stage.
    insert into outbox (event_id, event_type, topic, key, payload, headers)
    select event_id, event_type, topic, key, payload, headers from (
        {outbox_rows(PaymentMissed, "missed", {
            **_OWNERSHIP,
            "loan_id": "e.loan_id",
            "application_id": "e.application_id",
            "instalment_number": "e.number",
            "due_date": "e.due_date",
            "amount_due_cents": "e.amount_cents",
            "amount_unpaid_cents": "e.unpaid_cents",
            "business_date": "$2::date",
        }, time="$4", headers="$5", order=("e.loan_id", "0", "e.number"))}
        union all
        {outbox_rows(DelinquencyStageChanged, "stage_changes", {
            **_OWNERSHIP,
            "loan_id": "e.loan_id",
            "application_id": "e.application_id",
            "previous_stage": "e.previous_stage",
            "stage": "e.stage",
            "days_past_due": "e.days_past_due",
            "arrears_cents": "e.arrears_cents",
            "business_date": "$2::date",
        }, time="$4", headers="$5", order=("e.loan_id", "1", "0"))}
    ) as rows
    order by o1, o2, o3
), progress as (
    update cob_runs
       set resume_after = greatest(resume_after, $6), chunks = chunks + 1, loans_visited = loans_visited + cardinality($1::uuid[]),
           missed = missed + (select count(*) from missed), stage_changes = stage_changes + (select count(*) from stage_changes),
           loans_to_visit = loans_to_visit - $7
     where business_date = $2
 returning chunks
)
select (select count(*) from missed) as missed, (select count(*) from stage_changes) as stage_changes,
       (select chunks from progress) as chunk, array(select id from staged where days_past_due >= $8 order by id) as to_write_off,
       {NOTIFY}
"""

_LOAN_COLUMNS = ", ".join(Loan.model_fields)
_INSTALMENT_COLUMNS = ", ".join(Instalment.model_fields)
_LOANS = f"select {_LOAN_COLUMNS} from loans where id = any($1::uuid[]) order by id"
_INSTALMENTS = f"select loan_id, {_INSTALMENT_COLUMNS} from instalments where loan_id = any($1::uuid[]) order by loan_id, number"

# The loans written off and their events (built by the domain), and the count in the chunk's progress.
_WRITTEN_OFF = """
with written as (
    update loans l
       set status = w.status, written_off_on = w.written_off_on, principal_outstanding_cents = w.outstanding
      from unnest($2::uuid[], $3::text[], $4::date[], $5::int[]) as w(id, status, written_off_on, outstanding)
     where l.id = w.id
 returning l.id
), events as (
    insert into outbox (event_id, event_type, topic, key, payload, headers)
    select e.event_id, e.event_type, $6, e.key, e.payload, $7::jsonb
      from unnest($8::uuid[], $9::text[], $10::text[], $11::bytea[]) with ordinality as e(event_id, event_type, key, payload, n)
     order by e.n
)
update cob_runs set written_off = written_off + (select count(*) from written) where business_date = $1
"""

# Instalments due and unpaid on the date, of active loans, and loans stored as in arrears (listed in
# `loans_in_arrears`, whose loans closed or written off since leave it here): all the run may change.
# One simple-protocol script (no parameters): the date is a literal. The planner cannot know that the
# instalments both due and unpaid are a few in a hundred (it guesses millions and scans the whole table):
# the partial index of unpaid instalments is the only sane way in.
_SCOPE = """
set local enable_seqscan = off;
set local enable_hashjoin = off;
set local enable_mergejoin = off;
set local jit = off;
delete from loans_in_arrears a where not exists (select from loans l where l.id = a.loan_id and l.status = 'active');
create temporary table cob_scope (loan_id uuid not null, number integer);
insert into cob_scope
select i.loan_id, i.number
  from instalments i join loans l on l.id = i.loan_id
 where i.due_date <= {business_date} and i.paid_cents < i.amount_cents and l.status = 'active'
union all
select a.loan_id, null from loans_in_arrears a join loans l on l.id = a.loan_id and l.status = 'active';
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


@asynccontextmanager
async def exclusive_run(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Serialise runs (a second waits for the first to end), and drop the run's scope whatever happens."""
    await conn.execute("select pg_advisory_lock(hashtext($1))", RUN_LOCK)
    # Short set-based statements on a few thousand rows: compiling them (JIT) costs more than it saves,
    # and their sorts fit in memory.
    await conn.execute("set jit = off; set work_mem = '32MB'")
    try:
        yield
    finally:
        await conn.execute("drop table if exists cob_scope; reset jit; reset work_mem")
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


@dataclass(frozen=True)
class Chunk:
    """The next loans of the scope, in id order, and those of them still active, locked."""

    ids: list[UUID]
    locked: list[UUID]


async def take_chunk(conn: asyncpg.Connection, after: UUID | None, size: int) -> Chunk:
    """The `size` loans of the scope after `after` (from the first if None), those still active locked, in the
    caller's transaction (empty: nothing left)."""
    row = await conn.fetchrow(_TAKE.format(op=">" if after is not None else ">="), after or _NIL, size)
    return Chunk(ids=list(row["ids"]), locked=list(row["locked"]))


@dataclass(frozen=True)
class ChunkClosed:
    """What a chunk's statement did, its number in the pass, and its loans now past the write-off threshold."""

    missed: int
    stage_changes: int
    number: int
    to_write_off: list[UUID]


async def close_chunk(
    conn: asyncpg.Connection, business_date: date, chunk: Chunk, *, missed_by: date, write_off_days: int, stamp: Stamp
) -> ChunkClosed:
    """Mark missed the chunk's instalments due by `missed_by` and unpaid (once each), set its loans' days past due,
    arrears and stage, write the events of both and count the chunk in the pass's progress, in the caller's
    transaction."""
    row = await conn.fetchrow(
        _CLOSE, chunk.locked, business_date, missed_by, stamp.time, stamp.headers, chunk.ids[-1],
        len(chunk.ids) - len(chunk.locked), write_off_days, chunk.ids[0],
    )
    return ChunkClosed(
        missed=row["missed"], stage_changes=row["stage_changes"], number=row["chunk"], to_write_off=list(row["to_write_off"])
    )


async def loans_to_write_off(conn: asyncpg.Connection, ids: list[UUID]) -> list[tuple[Loan, list[Instalment]]]:
    """The loans `ids`, each with its schedule."""
    loans = [Loan(**dict(r)) for r in await conn.fetch(_LOANS, ids)]
    schedules: dict[UUID, list[Instalment]] = {loan.id: [] for loan in loans}
    for row in await conn.fetch(_INSTALMENTS, ids):
        values = dict(row)
        schedules[values.pop("loan_id")].append(Instalment(**values))
    return [(loan, schedules[loan.id]) for loan in loans]


async def save_write_offs(
    conn: asyncpg.Connection, business_date: date, decisions: Sequence[tuple[Loan, LoanWrittenOff]], stamp: Stamp
) -> None:
    """Persist loans written off with their events, and count them in the pass's progress."""
    if not decisions:
        return
    loans = [loan for loan, _ in decisions]
    events = [event for _, event in decisions]
    await conn.execute(
        _WRITTEN_OFF, business_date,
        [w.id for w in loans], [w.status.value for w in loans], [w.written_off_on for w in loans],
        [w.principal_outstanding_cents for w in loans],
        LoanWrittenOff.topic, stamp.headers,
        [e.id for e in events], [e.type for e in events], [e.subject for e in events], [e.to_bytes() for e in events],
    )


async def finish(conn: asyncpg.Connection, business_date: date, now: datetime) -> None:
    """Mark the date's run finished."""
    await conn.execute("update cob_runs set finished_at = $2, resume_after = null where business_date = $1", business_date, now)
