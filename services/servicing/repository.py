"""SQL for servicing's own tables: loans, their schedules, payments, adjustments and schedule history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.servicing.domain import Adjustment, Instalment, Loan, Payment
from shared.loanmath import ScheduledInstalment

_LOAN_FIELDS = tuple(Loan.model_fields)
_INSERT_LOAN = (
    f"insert into loans ({', '.join(_LOAN_FIELDS)}) values ({', '.join(f'${i}' for i in range(1, len(_LOAN_FIELDS) + 1))})"
    " on conflict (id) do nothing returning true"
)
_INSTALMENT_FIELDS = tuple(Instalment.model_fields)
_PAYMENT_FIELDS = tuple(Payment.model_fields)
_ADJUSTMENT_FIELDS = tuple(Adjustment.model_fields)


def _sql_parameters(count: int) -> str:
    """`$1, $2, …` for an insert of `count` columns."""
    return ", ".join(f"${i}" for i in range(1, count + 1))


async def insert_loan(conn: asyncpg.Connection, loan: Loan, schedule: list[ScheduledInstalment]) -> bool:
    """Store a new loan and its schedule; False if the loan already existed."""
    values = loan.model_dump()
    if not await conn.fetchval(_INSERT_LOAN, *(values[f] for f in _LOAN_FIELDS)):
        return False
    await conn.copy_records_to_table(
        "instalments",
        columns=["loan_id", "number", "due_date", "principal_cents", "interest_cents", "amount_cents", "remaining_principal_cents"],
        records=[
            (loan.id, s.number, s.due_date, s.principal_cents, s.interest_cents, s.instalment_cents, s.remaining_principal_cents)
            for s in schedule
        ],
    )
    return True


async def get_loan(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID, *, for_update: bool = False) -> Loan | None:
    """One loan, optionally locked for the rest of the transaction."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"select {', '.join(_LOAN_FIELDS)} from loans where id = $1{lock}", loan_id)
    return Loan(**dict(row)) if row else None


async def find_loans(conn: asyncpg.Pool, application_id: UUID) -> list[Loan]:
    """Loans of an application (zero or one)."""
    rows = await conn.fetch(f"select {', '.join(_LOAN_FIELDS)} from loans where application_id = $1", application_id)
    return [Loan(**dict(r)) for r in rows]


async def set_status(conn: asyncpg.Connection, loan: Loan) -> None:
    """Persist a loan's status and disbursement fields."""
    await conn.execute(
        "update loans set status = $2, payee = $3, disbursed_on = $4 where id = $1",
        loan.id, loan.status.value, loan.payee, loan.disbursed_on,
    )


async def save_loan(conn: asyncpg.Connection, loan: Loan) -> None:
    """Persist what payments, reversals and adjustments change on a loan."""
    await conn.execute(
        "update loans set status = $2, closed_on = $3, principal_outstanding_cents = $4, schedule_version = $5,"
        " arrears_cents = $6, days_past_due = $7, delinquency_stage = $8 where id = $1",
        loan.id, loan.status.value, loan.closed_on, loan.principal_outstanding_cents, loan.schedule_version,
        loan.arrears_cents, loan.days_past_due, loan.delinquency_stage,
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


# --- payments ------------------------------------------------------------------------------------


def _payment(row: asyncpg.Record) -> Payment:
    values = dict(row)
    values["allocations"] = json.loads(values["allocations"])
    return Payment(**values)


_SELECT_PAYMENT = f"select {', '.join(_PAYMENT_FIELDS)} from payments"


async def payment_by_reference(conn: asyncpg.Connection, loan_id: UUID, reference: str) -> Payment | None:
    """A payment already recorded under the bank's reference, if any."""
    row = await conn.fetchrow(f"{_SELECT_PAYMENT} where loan_id = $1 and bank_reference = $2", loan_id, reference)
    return _payment(row) if row else None


async def payment_by_id(conn: asyncpg.Connection, loan_id: UUID, payment_id: UUID) -> Payment | None:
    """One payment of a loan."""
    row = await conn.fetchrow(f"{_SELECT_PAYMENT} where loan_id = $1 and id = $2", loan_id, payment_id)
    return _payment(row) if row else None


async def payments(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID) -> list[Payment]:
    """A loan's payments in the order they were recorded."""
    return [_payment(r) for r in await conn.fetch(f"{_SELECT_PAYMENT} where loan_id = $1 order by recorded_at, id", loan_id)]


async def insert_payment(conn: asyncpg.Connection, payment: Payment) -> None:
    """Store a payment with where its money went."""
    values = payment.model_dump(mode="json")
    values.update(
        id=payment.id, loan_id=payment.loan_id, received_on=payment.received_on, recorded_at=payment.recorded_at,
        allocations=json.dumps(values["allocations"]),
    )
    await conn.execute(
        f"insert into payments ({', '.join(_PAYMENT_FIELDS)}) values ({_sql_parameters(len(_PAYMENT_FIELDS))})",
        *(values[f] for f in _PAYMENT_FIELDS),
    )


async def mark_reversed(conn: asyncpg.Connection, payment: Payment) -> None:
    """Record that a payment was reversed, and why."""
    await conn.execute(
        "update payments set reversed_at = $3, reversal_reason = $4 where loan_id = $1 and id = $2",
        payment.loan_id, payment.id, payment.reversed_at, payment.reversal_reason,
    )


# --- adjustments and schedule versions ----------------------------------------------------------


def _adjustment(row: asyncpg.Record) -> Adjustment:
    values = dict(row)
    values["terms"] = json.loads(values["terms"])
    return Adjustment(**values)


_SELECT_ADJUSTMENT = f"select {', '.join(_ADJUSTMENT_FIELDS)} from adjustments"


async def insert_adjustment(conn: asyncpg.Connection, adjustment: Adjustment) -> None:
    """Store a requested adjustment."""
    values = adjustment.model_dump()
    values["terms"] = adjustment.terms.model_dump_json(exclude_none=True)
    await conn.execute(
        f"insert into adjustments ({', '.join(_ADJUSTMENT_FIELDS)}) values ({_sql_parameters(len(_ADJUSTMENT_FIELDS))})",
        *(values[f] for f in _ADJUSTMENT_FIELDS),
    )


async def get_adjustment(
    conn: asyncpg.Connection, loan_id: UUID, adjustment_id: UUID, *, for_update: bool = False
) -> Adjustment | None:
    """One adjustment of a loan."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"{_SELECT_ADJUSTMENT} where loan_id = $1 and id = $2{lock}", loan_id, adjustment_id)
    return _adjustment(row) if row else None


async def open_adjustment(conn: asyncpg.Connection, loan_id: UUID) -> Adjustment | None:
    """The request of a loan still waiting for the bank's answer, if any."""
    row = await conn.fetchrow(f"{_SELECT_ADJUSTMENT} where loan_id = $1 and status = 'requested'", loan_id)
    return _adjustment(row) if row else None


async def adjustments(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID) -> list[Adjustment]:
    """A loan's adjustments, oldest first."""
    rows = await conn.fetch(f"{_SELECT_ADJUSTMENT} where loan_id = $1 order by requested_at, id", loan_id)
    return [_adjustment(r) for r in rows]


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


async def schedule_versions(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID) -> list[dict[str, Any]]:
    """The versions a loan's schedule had before the current one, oldest first."""
    rows = await conn.fetch(
        "select version, adjustment_id, created_at, lines from schedule_versions where loan_id = $1 order by version", loan_id
    )
    return [{**dict(r), "lines": [Instalment(**line) for line in json.loads(r["lines"])]} for r in rows]


async def current_version_origin(conn: asyncpg.Connection | asyncpg.Pool, loan: Loan) -> tuple[UUID | None, datetime]:
    """The adjustment that made the current schedule (None: the original) and when."""
    row = await conn.fetchrow(
        "select id, answered_at from adjustments where loan_id = $1 and status = 'accepted' and schedule_version = $2",
        loan.id, loan.schedule_version,
    )
    return (row["id"], row["answered_at"]) if row else (None, loan.created_at)
