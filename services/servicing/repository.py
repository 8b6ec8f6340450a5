"""SQL for servicing's own tables."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from services.servicing.domain import Instalment, Loan, MissedInstalment
from shared.loanmath import ScheduledInstalment

_LOAN_FIELDS = tuple(Loan.model_fields)
_INSERT_LOAN = (
    f"insert into loans ({', '.join(_LOAN_FIELDS)}) values ({', '.join(f'${i}' for i in range(1, len(_LOAN_FIELDS) + 1))})"
    " on conflict (id) do nothing returning true"
)


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


async def instalments(conn: asyncpg.Connection | asyncpg.Pool, loan_id: UUID) -> list[Instalment]:
    """A loan's schedule with what is paid, in order."""
    rows = await conn.fetch(
        "select number, due_date, principal_cents, interest_cents, amount_cents, remaining_principal_cents, paid_cents"
        " from instalments where loan_id = $1 order by number",
        loan_id,
    )
    return [Instalment(**dict(r)) for r in rows]


async def payment_by_reference(conn: asyncpg.Connection, loan_id: UUID, reference: str) -> asyncpg.Record | None:
    """A payment already recorded under the bank's reference, if any."""
    return await conn.fetchrow(
        "select id, bank_reference, amount_cents, received_on from payments where loan_id = $1 and bank_reference = $2",
        loan_id, reference,
    )


async def record_payment(
    conn: asyncpg.Connection, payment_id: UUID, loan_id: UUID, reference: str, amount: int, received_on: date,
    applied: dict[int, int], now: object,
) -> None:
    """Store a payment and add what it pays to each instalment."""
    await conn.execute(
        "insert into payments (id, loan_id, bank_reference, amount_cents, received_on, recorded_at) values ($1,$2,$3,$4,$5,$6)",
        payment_id, loan_id, reference, amount, received_on, now,
    )
    await conn.executemany(
        # Interest first, then principal, within each instalment (SET sees the row's old values).
        "update instalments set paid_cents = paid_cents + $3,"
        " interest_paid_cents = least(interest_cents, interest_paid_cents + $3),"
        " principal_paid_cents = principal_paid_cents + $3 - (least(interest_cents, interest_paid_cents + $3) - interest_paid_cents)"
        " where loan_id = $1 and number = $2",
        [(loan_id, number, cents) for number, cents in applied.items()],
    )


async def mark_missed(conn: asyncpg.Connection, business_date: date) -> list[MissedInstalment]:
    """Record every instalment of an active loan due by `business_date` and unpaid, once; return the new ones."""
    rows = await conn.fetch(
        """
        with due as (
            select i.loan_id, l.application_id, l.association_id, l.region, l.counsellor_id,
                   i.number, i.due_date, i.amount_cents, i.amount_cents - i.paid_cents as amount_unpaid_cents
              from instalments i join loans l on l.id = i.loan_id
             where l.status = 'active' and i.due_date <= $1 and i.paid_cents < i.amount_cents
        ), recorded as (
            insert into missed_instalments (loan_id, number, business_date, amount_unpaid_cents)
            select loan_id, number, $1, amount_unpaid_cents from due
            on conflict do nothing
            returning loan_id, number
        )
        select due.* from due join recorded using (loan_id, number) order by due.loan_id, due.number
        """,
        business_date,
    )
    return [MissedInstalment(**dict(r)) for r in rows]
