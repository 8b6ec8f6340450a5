"""SQL for payments: each with where its money went, and its reversal."""

from __future__ import annotations

import json
from uuid import UUID

import asyncpg

from services.servicing.domain import Payment

_FIELDS = tuple(Payment.model_fields)
_SELECT = f"select {', '.join(_FIELDS)} from payments"
_INSERT = "insert into payments ({}) values ({})".format(", ".join(_FIELDS), ", ".join(f"${i}" for i in range(1, len(_FIELDS) + 1)))


def _payment(row: asyncpg.Record) -> Payment:
    values = dict(row)
    values["allocations"] = json.loads(values["allocations"])
    return Payment(**values)


async def payment_by_reference(conn: asyncpg.Connection, loan_id: UUID, reference: str) -> Payment | None:
    """A payment already recorded under the bank's reference, if any."""
    row = await conn.fetchrow(f"{_SELECT} where loan_id = $1 and bank_reference = $2", loan_id, reference)
    return _payment(row) if row else None


async def payment_by_id(conn: asyncpg.Connection, loan_id: UUID, payment_id: UUID) -> Payment | None:
    """One payment of a loan."""
    row = await conn.fetchrow(f"{_SELECT} where loan_id = $1 and id = $2", loan_id, payment_id)
    return _payment(row) if row else None


async def payments(conn: asyncpg.Pool, loan_id: UUID, *, limit: int, offset: int) -> tuple[list[Payment], int]:
    """A page of a loan's payments in the order they were recorded, and how many it has in all."""
    total = await conn.fetchval("select count(*) from payments where loan_id = $1", loan_id)
    rows = await conn.fetch(f"{_SELECT} where loan_id = $1 order by recorded_at, id limit $2 offset $3", loan_id, limit, offset)
    return [_payment(r) for r in rows], total


async def insert_payment(conn: asyncpg.Connection, payment: Payment) -> None:
    """Store a payment with where its money went."""
    values = payment.model_dump(mode="json")
    values.update(
        id=payment.id, loan_id=payment.loan_id, received_on=payment.received_on, recorded_at=payment.recorded_at,
        allocations=json.dumps(values["allocations"]),
    )
    await conn.execute(_INSERT, *(values[f] for f in _FIELDS))


async def mark_reversed(conn: asyncpg.Connection, payment: Payment) -> None:
    """Record that a payment was reversed, and why."""
    await conn.execute(
        "update payments set reversed_at = $3, reversal_reason = $4 where loan_id = $1 and id = $2",
        payment.loan_id, payment.id, payment.reversed_at, payment.reversal_reason,
    )
