"""Servicing's Kafka handlers: a bank approval opens a loan; the banks' payment feed pays or reverses."""

from __future__ import annotations

import asyncpg
from pydantic import ValidationError

from services.servicing import domain, repository, usecases
from shared.consumer import EventRejected
from shared.errors import BusinessRuleError
from shared.events import BankPayment, LoanApproved, Topics
from shared.runtime import ServiceContext

GROUP_ID = "servicing"
BANK_PAYMENTS_GROUP_ID = "servicing-bank-payments"


def register(ctx: ServiceContext) -> None:
    """Subscribe servicing to the applications stream (loan approvals) and the banks' payments."""

    async def on_loan_approved(conn: asyncpg.Connection, event: LoanApproved) -> None:
        loan, schedule = domain.open_loan(event, ctx.clock.now())
        await repository.insert_loan(conn, loan, schedule)

    async def on_bank_payment(conn: asyncpg.Connection, event: BankPayment) -> None:
        try:
            await apply_bank_payment(conn, event, ctx)
        except (BusinessRuleError, ValidationError) as exc:
            raise EventRejected(str(exc)) from exc

    ctx.consume(GROUP_ID, (Topics.APPLICATIONS,), {LoanApproved: on_loan_approved})
    ctx.consume(BANK_PAYMENTS_GROUP_ID, (Topics.BANK_PAYMENTS,), {BankPayment: on_bank_payment})


async def apply_bank_payment(conn: asyncpg.Connection, event: BankPayment, ctx: ServiceContext) -> None:
    """A payment, or the reversal of one, reported by the lending bank; a reference already seen changes nothing."""
    d = event.data
    loan = await repository.get_loan(conn, d.loan_id, for_update=True)
    if loan is None or loan.bank_id != d.bank_id:
        # Another bank's loan is treated exactly like an unknown one.
        raise EventRejected(f"bank {d.bank_id} has no loan {d.loan_id}")
    now = ctx.clock.now()
    if d.kind == "payment":
        cmd = domain.NewPayment(bank_reference=d.bank_reference, amount_cents=d.amount_cents, received_on=d.received_on)
        await usecases.record_payment(conn, loan, cmd, today=ctx.clock.today(), now=now)
        return
    if d.reversed_reference is None:
        raise EventRejected("a reversal must name the reference of the payment it reverses (`reversed_reference`)")
    payment = await repository.payment_by_reference(conn, loan.id, d.reversed_reference)
    if payment is None:
        raise EventRejected(f"loan {loan.id} has no payment {d.reversed_reference} to reverse")
    if payment.reversed_at is not None:
        return
    if d.amount_cents != payment.amount_cents:
        raise EventRejected(f"the reversal is of {d.amount_cents} cents, the payment of {payment.amount_cents}")
    reason = d.reason or f"reversed by the bank ({d.bank_reference})"
    await usecases.reverse_payment(conn, loan, payment, domain.Reversal(reason=reason[:500]), now=now)
