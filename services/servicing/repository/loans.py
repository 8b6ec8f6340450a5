"""SQL for loans and their current schedules (the `loans` and `instalments` tables)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from services.servicing.domain import Instalment, Loan
from shared.db import limit_offset, with_equalities
from shared.events.envelope import Envelope
from shared.loanmath import ScheduledInstalment
from shared.outbox import outboxed, outboxed_arguments

_LOAN_FIELDS = tuple(Loan.model_fields)
_INSTALMENT_FIELDS = tuple(Instalment.model_fields)
# The loan and its schedule in one statement (one round trip; a COPY cost about 0.9 ms of the server's time for a
# 36-line schedule): the schedule's lines are inserted only when the loan was, and the answer says whether it was.
_LINE_COLUMNS = ("number", "due_date", "principal_cents", "interest_cents", "amount_cents", "remaining_principal_cents")
_LINE_TYPES = ("int[]", "date[]", "int[]", "int[]", "int[]", "int[]")
_N = len(_LOAN_FIELDS)
_INSERT_LOAN = (
    f"with loan as (insert into loans ({', '.join(_LOAN_FIELDS)}) values ({', '.join(f'${i}' for i in range(1, _N + 1))})"
    " on conflict (id) do nothing returning id),"
    f" lines as (insert into instalments (loan_id, {', '.join(_LINE_COLUMNS)}) select loan.id, line.* from loan, unnest("
    + ", ".join(f"${_N + 1 + k}::{kind}" for k, kind in enumerate(_LINE_TYPES))
    + ") as line)"
    " select exists (select from loan)"
)


async def insert_loan(conn: asyncpg.Connection, loan: Loan, schedule: list[ScheduledInstalment]) -> bool:
    """Store a new loan and its schedule; False if the loan already existed."""
    values = loan.model_dump()
    lines = (
        [s.number for s in schedule], [s.due_date for s in schedule], [s.principal_cents for s in schedule],
        [s.interest_cents for s in schedule], [s.instalment_cents for s in schedule], [s.remaining_principal_cents for s in schedule],
    )
    return bool(await conn.fetchval(_INSERT_LOAN, *(values[f] for f in _LOAN_FIELDS), *lines))


async def get_loan(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID, *, for_update: bool = False) -> Loan | None:
    """One loan, optionally locked for the rest of the transaction."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"select {', '.join(_LOAN_FIELDS)} from loans where id = $1{lock}", loan_id)
    return Loan(**dict(row)) if row else None


async def find_loans(conn: asyncpg.Pool, application_id: UUID, *, limit: int, offset: int) -> list[Loan]:
    """A page of the loans of an application (zero or one: a loan's id derives from its application's)."""
    rows = await conn.fetch(
        f"select {', '.join(_LOAN_FIELDS)} from loans where application_id = $1 order by id limit $2 offset $3",
        application_id, limit, offset,
    )
    return [Loan(**dict(r)) for r in rows]


async def followed_loans(
    conn: asyncpg.Pool, *, association_id: str | None, counsellor_id: str | None, bank_id: str | None, limit: int, offset: int
) -> tuple[list[Loan], int]:
    """A page of the loans an association (or one counsellor of it), or a bank, follows: those in arrears first,
    the most days past due first, then the newest; and how many there are in all."""
    # Only the filters given: the planner then reads the owner's loans from `loans_by_association` or `loans_by_bank`
    # (migrations/005_followed_loans.sql) instead of every loan, which `$n is null or …` would have it do.
    where, args = with_equalities("true", [], association_id=association_id, counsellor_id=counsellor_id, bank_id=bank_id)
    rows = await conn.fetch(
        f"select {', '.join(_LOAN_FIELDS)}, count(*) over () as total from loans where {where}"
        f" order by status = 'active' desc, days_past_due desc, created_at desc, id{limit_offset(args)}",
        *args, limit, offset,
    )
    total = rows[0]["total"] if rows else await conn.fetchval(f"select count(*) from loans where {where}", *args)
    return [Loan(**{k: r[k] for k in _LOAN_FIELDS}) for r in rows], int(total)


async def schedules(conn: asyncpg.Pool, loan_ids: Sequence[UUID]) -> dict[UUID, list[Instalment]]:
    """The current schedules of several loans in one query, each oldest first."""
    rows = await conn.fetch(
        f"select loan_id, {', '.join(_INSTALMENT_FIELDS)} from instalments where loan_id = any($1::uuid[]) order by loan_id, due_date, number",
        list(loan_ids),
    )
    found: dict[UUID, list[Instalment]] = {loan_id: [] for loan_id in loan_ids}
    for r in rows:
        found[r["loan_id"]].append(Instalment(**{k: r[k] for k in _INSTALMENT_FIELDS}))
    return found


async def get_loan_versioned(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID) -> tuple[Loan, int] | None:
    """One loan and the version of its row (Postgres' `xmin`), which `store_disbursement` checks; None if unknown."""
    row = await conn.fetchrow(f"select xmin as row_version, {', '.join(_LOAN_FIELDS)} from loans where id = $1", loan_id)
    return (Loan(**{k: row[k] for k in _LOAN_FIELDS}), row["row_version"]) if row else None


async def store_disbursement(conn: asyncpg.Connection, loan: Loan, events: Sequence[Envelope[Any]], *, version: int) -> bool:
    """A loan's status and disbursement fields, its events and the relay's wake-up, in one statement (its own
    transaction): written only if the loan's row is still `version`; False, and nothing written, otherwise."""
    return await conn.fetchval(
        "with written as (update loans set status = $2, payee = $3, disbursed_on = $4 where id = $1 and xmin = $5"
        f" returning 1), {outboxed(6)} select 1 from written",
        loan.id, loan.status.value, loan.payee, loan.disbursed_on, version, *await outboxed_arguments(conn, events),
    ) is not None


async def save_loan(conn: asyncpg.Connection, loan: Loan) -> None:
    """Persist what payments, reversals and adjustments change on a loan."""
    await conn.execute(
        "update loans set status = $2, closed_on = $3, principal_outstanding_cents = $4, schedule_version = $5,"
        " arrears_cents = $6, days_past_due = $7, delinquency_stage = $8 where id = $1",
        loan.id, loan.status.value, loan.closed_on, loan.principal_outstanding_cents, loan.schedule_version,
        loan.arrears_cents, loan.days_past_due, loan.delinquency_stage.value,
    )


async def instalments(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID) -> list[Instalment]:
    """A loan's current schedule with what is paid, oldest first."""
    rows = await conn.fetch(
        f"select {', '.join(_INSTALMENT_FIELDS)} from instalments where loan_id = $1 order by due_date, number", loan_id
    )
    return [Instalment(**dict(r)) for r in rows]


_CHANGED = (
    "principal_cents", "interest_cents", "amount_cents", "remaining_principal_cents",
    "paid_cents", "interest_paid_cents", "principal_paid_cents",
)


async def save_instalments(
    conn: asyncpg.Connection, loan_id: UUID, before: Sequence[Instalment], after: Sequence[Instalment]
) -> None:
    """Write the difference between two states of a schedule: lines removed, changed and added."""
    old = {i.number: i for i in before}
    new = {i.number: i for i in after}
    removed = sorted(old.keys() - new.keys())
    if removed:
        await conn.execute("delete from instalments where loan_id = $1 and number = any($2::int[])", loan_id, removed)
    changed = [new[n] for n in sorted(old.keys() & new.keys()) if old[n] != new[n]]
    if changed:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(_CHANGED, start=3))
        await conn.executemany(
            f"update instalments set {sets} where loan_id = $1 and number = $2",
            [(loan_id, i.number, *(getattr(i, name) for name in _CHANGED)) for i in changed],
        )
    added = [new[n] for n in sorted(new.keys() - old.keys())]
    if added:
        await conn.copy_records_to_table(
            "instalments",
            columns=["loan_id", *_INSTALMENT_FIELDS],
            records=[(loan_id, *(getattr(i, name) for name in _INSTALMENT_FIELDS)) for i in added],
        )
