"""Servicing use cases, in the caller's transaction on a loan it has locked: the HTTP API and Kafka share them."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from services.servicing import domain, repository
from shared.outbox import add_to_outbox


async def _apply(conn: asyncpg.Connection, before: list[domain.Instalment], change: domain.LedgerChange) -> None:
    await repository.save_instalments(conn, change.loan.id, before, change.instalments)
    await repository.save_loan(conn, change.loan)
    await add_to_outbox(conn, *change.events)


async def record_payment(
    conn: asyncpg.Connection, loan: domain.Loan, cmd: domain.NewPayment, *, today: date, now: datetime
) -> tuple[domain.Payment, bool]:
    """Apply a payment once per bank reference: (the payment, True if it had already been recorded)."""
    existing = await repository.payment_by_reference(conn, loan.id, cmd.bank_reference)
    if existing is not None:
        return existing, True
    lines = await repository.instalments(conn, loan.id)
    change = domain.receive_payment(loan, lines, cmd, domain.payment_id_for(loan.id, cmd.bank_reference), today, now)
    await repository.insert_payment(conn, change.payment)
    await _apply(conn, lines, change)
    return change.payment, False


async def reverse_payment(
    conn: asyncpg.Connection, loan: domain.Loan, payment: domain.Payment, cmd: domain.Reversal, *, now: datetime
) -> domain.Payment:
    """Reverse a payment: what it paid is owed again."""
    lines = await repository.instalments(conn, loan.id)
    change = domain.reverse_payment(loan, lines, payment, cmd, now)
    await repository.mark_reversed(conn, change.payment)
    await _apply(conn, lines, change)
    return change.payment


async def request_adjustment(
    conn: asyncpg.Connection,
    loan: domain.Loan,
    body: domain.AdjustmentRequest,
    *,
    adjustment_id: UUID,
    requested_by: str,
    today: date,
    now: datetime,
) -> tuple[domain.Adjustment, domain.Preview]:
    """Record a counsellor's request and what it would come to if accepted today."""
    adjustment, figures, event = domain.request_adjustment(
        loan,
        await repository.instalments(conn, loan.id),
        body,
        adjustment_id=adjustment_id,
        requested_by=requested_by,
        open_request=await repository.open_adjustment(conn, loan.id),
        today=today,
        now=now,
    )
    await repository.insert_adjustment(conn, adjustment)
    await add_to_outbox(conn, event)
    return adjustment, figures


async def answer_adjustment(
    conn: asyncpg.Connection,
    loan: domain.Loan,
    adjustment: domain.Adjustment,
    answer: domain.AdjustmentAnswer,
    *,
    answered_by: str,
    today: date,
    now: datetime,
) -> domain.Adjustment:
    """The bank's answer; an acceptance archives the current schedule and writes the new version."""
    lines = await repository.instalments(conn, loan.id)
    answered = domain.answer_adjustment(loan, lines, adjustment, answer, answered_by=answered_by, today=today, now=now)
    if answered.plan is not None and answered.loan is not None:
        await repository.archive_version(conn, loan, lines)
        await repository.save_instalments(conn, loan.id, lines, answered.plan.instalments)
        await repository.save_loan(conn, answered.loan)
    await repository.save_answer(conn, answered.adjustment)
    await add_to_outbox(conn, *answered.events)
    return answered.adjustment
