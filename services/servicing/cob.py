"""Close of business for a business date: missed instalments, delinquency stages and write-offs, in chunks.

A run visits only the loans it may have to change: those with an instalment due and unpaid on the
business date (the partial index of unpaid instalments) and those whose stored summary says they are in
arrears (to bring them back to `current`). It walks them in loan-id order, a chunk of loans per
transaction: the chunk locks its loans (a payment waits at most one chunk), marks missed instalments,
updates the loans' days past due, arrears and stage, writes off the loans past the threshold, writes the
events of all of that to the outbox (built set-based in SQL, in the same statements) and records its
progress in `cob_runs`, all in one commit. Every change is conditional (`missed_on is null`, a stage
that differs, a loan still active), so a run interrupted at any point resumes after its last committed
chunk, and a second run for the same date changes and publishes nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg
from pydantic import AwareDatetime, BaseModel, TypeAdapter

from services.servicing.domain import SOURCE, Instalment, Loan
from services.servicing.settings import ServicingSettings
from services.servicing.writeoff import write_off
from shared.events import DelinquencyStageChanged, PaymentMissed
from shared.events.envelope import Envelope
from shared.failpoints import Failpoints
from shared.outbox import add_to_outbox, notify_relay, trace_headers
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

RUN_LOCK = "servicing:close-of-business"
FAILPOINT = "cob_after_chunk"
# Upper bounds (days past due, inclusive) of each delinquency stage; beyond the last: "90+".
STAGES: tuple[tuple[int, str], ...] = ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"))
LAST_STAGE = "90+"
_NIL = UUID(int=0)
_TIME = TypeAdapter(AwareDatetime)


def delinquency_stage(days_past_due: int) -> str:
    """The stage of a loan `days_past_due` days behind its oldest unpaid instalment."""
    return next((stage for bound, stage in STAGES if days_past_due <= bound), LAST_STAGE)


@dataclass(frozen=True)
class CobPolicy:
    """The rules of the run, from the service's settings."""

    grace_days: int = 0
    write_off_days: int = 180
    chunk_size: int = 1000

    @classmethod
    def of(cls, settings: ServiceSettings) -> CobPolicy:
        """The policy the service's settings configure (the defaults for settings without them)."""
        if not isinstance(settings, ServicingSettings):
            return cls()
        return cls(grace_days=settings.grace_days, write_off_days=settings.write_off_days, chunk_size=settings.cob_chunk_size)


class CloseOfBusinessRun(BaseModel):
    """What one close-of-business request did (a resumed run counts only what it did itself)."""

    business_date: date
    missed_instalments: int
    stage_changes: int
    written_off: int
    loans_visited: int
    chunks: int
    resumed: bool


# --- events built in SQL ------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def event_payload_sql(event_cls: type[Envelope[object]], data: dict[str, str], *, time: str) -> str:
    """A SQL expression of the CloudEvent bytes of `event_cls` for the row `e`.

    `e` has `event_id` and `loan_id`; `time` is the parameter holding the event time (JSON text) and
    `data` maps each payload field to its SQL expression. The key order follows the pydantic models.
    """
    event_type = event_cls.event_type()
    fields = ", ".join(f"{_literal(name)}, {expr}" for name, expr in data.items())
    return (
        "convert_to(json_build_object("
        f"'specversion', '1.0', 'id', e.event_id, 'source', {_literal(SOURCE)}, 'type', {_literal(event_type)},"
        f" 'subject', e.loan_id, 'time', {time}::text, 'datacontenttype', 'application/json',"
        f" 'dataschema', {_literal('urn:microcredit:schema:' + event_type)}, 'data', json_build_object({fields})"
        ")::text, 'UTF8')"
    )


def _outbox_insert(event_cls: type[Envelope[object]], source: str, order: str, data: dict[str, str], *, time: str, headers: str) -> str:
    """Insert the events of the rows of CTE `source` into the outbox, in `order` (their publication order)."""
    return (
        "insert into outbox (event_id, event_type, topic, key, payload, headers)"
        f" select e.event_id, {_literal(event_cls.event_type())}, {_literal(event_cls.topic)}, e.loan_id::text,"
        f" {event_payload_sql(event_cls, data, time=time)}, {headers}::jsonb"
        f" from (select gen_random_uuid() as event_id, s.* from {source} s) e order by {order}"
        " returning 1"
    )


_OWNERSHIP = {"association_id": "e.association_id", "region": "e.region", "counsellor_id": "e.counsellor_id"}
_STAGE_CASE = "case " + " ".join(f"when days_past_due <= {b} then {_literal(s)}" for b, s in STAGES) + f" else {_literal(LAST_STAGE)} end"
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
    {_outbox_insert(PaymentMissed, "missed", "e.loan_id, e.number", {
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
    select summary.*, {_STAGE_CASE} as stage from summary
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
    {_outbox_insert(DelinquencyStageChanged, "stage_changes", "e.loan_id", {
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

_PROGRESS = """
update cob_runs
   set resume_after = $2, chunks = chunks + 1, loans_visited = loans_visited + $3,
       missed = missed + $4, stage_changes = stage_changes + $5, written_off = written_off + $6
 where business_date = $1
returning chunks
"""

# Instalments due and unpaid on the date, of active loans, and loans stored as in arrears: all the run may change.
# One simple-protocol script (no parameters): the date and the resume point are literals. The planner
# cannot know that the instalments both due and unpaid are a few in a hundred (it guesses millions
# and scans the whole table): the partial index of unpaid instalments is the only sane way in.
_SCOPE = """
set local enable_seqscan = off;
set local enable_hashjoin = off;
set local enable_mergejoin = off;
set local jit = off;
create temporary table cob_scope (loan_id uuid not null, number integer);
insert into cob_scope
select i.loan_id, i.number
  from instalments i join loans l on l.id = i.loan_id
 where i.due_date <= {business_date} and i.paid_cents < i.amount_cents and l.status = 'active' and {instalment_after}
union all
select id, null from loans
 where status = 'active' and (days_past_due > 0 or arrears_cents > 0) and {loan_after};
create index on cob_scope (loan_id);
analyze cob_scope;
"""


@dataclass
class _Chunk:
    loans: int = 0
    missed: int = 0
    stage_changes: int = 0
    written_off: int = 0


async def close_business_day(
    pool: asyncpg.Pool,
    business_date: date,
    *,
    policy: CobPolicy,
    now: datetime,
    failpoints: Failpoints | None = None,
) -> CloseOfBusinessRun:
    """Run (or resume, or repeat without effect) the close of business of `business_date`.

    Runs are serialised: a second request waits for the first to end, then finds nothing left to do.
    """
    headers = trace_headers()
    event_time = _TIME.dump_python(now, mode="json")
    async with pool.acquire() as conn:
        await conn.execute("select pg_advisory_lock(hashtext($1))", RUN_LOCK)
        try:
            resume_after, resumed = await _begin(conn, business_date, now)
            await conn.execute("drop table if exists cob_scope")
            async with conn.transaction():
                await conn.execute(
                    _SCOPE.format(
                        business_date=_date_literal(business_date),
                        instalment_after=_after("i.loan_id", resume_after),
                        loan_after=_after("id", resume_after),
                    )
                )
            total = _Chunk()
            chunks = 0
            while ids := await _next_chunk(conn, resume_after, policy.chunk_size):
                async with conn.transaction():
                    done, chunk_no = await _run_chunk(
                        conn, business_date, ids, policy=policy, event_time=event_time, headers=headers, now=now
                    )
                chunks += 1
                for field in ("loans", "missed", "stage_changes", "written_off"):
                    setattr(total, field, getattr(total, field) + getattr(done, field))
                if failpoints is not None:
                    failpoints.hit(FAILPOINT, str(chunk_no))
                resume_after = ids[-1]
            await conn.execute(
                "update cob_runs set finished_at = $2, resume_after = null where business_date = $1", business_date, now
            )
        finally:
            await conn.execute("drop table if exists cob_scope")
            await conn.execute("select pg_advisory_unlock(hashtext($1))", RUN_LOCK)
    log.info(
        "close of business %s: %d chunks, %d loans visited, %d missed, %d stage changes, %d written off%s",
        business_date, chunks, total.loans, total.missed, total.stage_changes, total.written_off, " (resumed)" if resumed else "",
    )
    return CloseOfBusinessRun(
        business_date=business_date,
        missed_instalments=total.missed,
        stage_changes=total.stage_changes,
        written_off=total.written_off,
        loans_visited=total.loans,
        chunks=chunks,
        resumed=resumed,
    )


def _date_literal(value: date) -> str:
    return f"date {_literal(value.isoformat())}"


def _after(column: str, value: UUID | None) -> str:
    # Before the first chunk every loan id qualifies, the nil UUID included.
    return "true" if value is None else f"{column} > {_literal(str(value))}::uuid"


async def _begin(conn: asyncpg.Connection, business_date: date, now: datetime) -> tuple[UUID | None, bool]:
    """Start a pass for the date, or resume the unfinished one: return (last loan id done, resumed)."""
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
            " chunks = 0, loans_visited = 0 where business_date = $1",
            business_date, now,
        )
        return None, False


async def _next_chunk(conn: asyncpg.Connection, after: UUID | None, size: int) -> list[UUID]:
    """The ids of the next `size` loans of the scope after `after`, in order (empty: nothing left)."""
    op = ">" if after is not None else ">="
    rows = await conn.fetch(
        f"select distinct loan_id from cob_scope where loan_id {op} $1 order by loan_id limit $2", after or _NIL, size
    )
    return [r["loan_id"] for r in rows]


async def _run_chunk(
    conn: asyncpg.Connection,
    business_date: date,
    ids: list[UUID],
    *,
    policy: CobPolicy,
    event_time: str,
    headers: str,
    now: datetime,
) -> tuple[_Chunk, int]:
    """One chunk, in the caller's transaction: state changes, their events and the run's progress."""
    # Short set-based statements on a few thousand rows: compiling them (JIT) costs more than it saves,
    # and their sorts fit in memory.
    await conn.execute("set local jit = off; set local work_mem = '32MB'")
    done = _Chunk()
    locked = [r["id"] for r in await conn.fetch(_LOCK, ids)]
    done.loans = len(locked)
    missed_by = business_date - timedelta(days=policy.grace_days)
    done.missed = await conn.fetchval(_MISSED, locked, business_date, missed_by, event_time, headers)
    stages = await conn.fetchrow(_STAGES, locked, business_date, event_time, headers)
    done.stage_changes = stages["stage_changes"]
    done.written_off = await _write_off(conn, locked, business_date, policy.write_off_days, now)
    await notify_relay(conn)
    chunk_no = await conn.fetchval(
        _PROGRESS, business_date, ids[-1], done.loans, done.missed, done.stage_changes, done.written_off
    )
    return done, chunk_no


async def _write_off(conn: asyncpg.Connection, ids: list[UUID], business_date: date, threshold: int, now: datetime) -> int:
    """Write off the chunk's loans past the threshold: few a day, so through the domain's own rule."""
    loans = [Loan(**dict(r)) for r in await conn.fetch(_TO_WRITE_OFF, ids, threshold)]
    if not loans:
        return 0
    schedules: dict[UUID, list[Instalment]] = {loan.id: [] for loan in loans}
    for row in await conn.fetch(_INSTALMENTS, list(schedules)):
        values = dict(row)
        schedules[values.pop("loan_id")].append(Instalment(**values))
    decisions = [write_off(loan, schedules[loan.id], business_date, now=now) for loan in loans]
    await conn.executemany(
        _WRITE_OFF,
        [(w.id, w.status.value, w.written_off_on, w.principal_outstanding_cents) for w, _ in decisions],
    )
    await add_to_outbox(conn, *(event for _, event in decisions))
    return len(decisions)
