"""Servicing's Kafka handlers: a bank approval opens a loan; each bank's payments topic pays or reverses.

They translate, they do not decide: the event becomes the command the HTTP API also takes, the same use
case applies it, and what it refuses (another bank's loan, a broken rule) goes to the dead-letter topic.
"""

from __future__ import annotations

import asyncpg
from pydantic import ValidationError

from services.servicing import domain, repository, usecases
from services.servicing.settings import ServicingSettings
from shared.auth import Principal, Role
from shared.consumer import EventRejected, EventTooEarly
from shared.errors import BusinessRuleError
from shared.events import BankPayment, LoanApproved, PartnerTopics, PersonErased, Topics
from shared.events.banks import sender_refusal
from shared.http import Problem
from shared.runtime import ServiceContext

GROUP_ID = "servicing"
ERASURES_GROUP_ID = "servicing-erasures"
BANK_PAYMENTS_GROUP_ID = "servicing-bank-payments"


def register(ctx: ServiceContext[ServicingSettings]) -> None:
    """Subscribe servicing to the applications stream (loan approvals), the erasures and the banks' payments."""

    async def on_loan_approved(conn: asyncpg.Connection, event: LoanApproved) -> None:
        await usecases.open_loan(conn, event, now=ctx.clock.now())

    async def on_bank_payment(conn: asyncpg.Connection, event: BankPayment) -> None:
        try:
            await apply_bank_payment(conn, event, ctx)
        except (Problem, BusinessRuleError, ValidationError) as refused:
            raise EventRejected(str(refused)) from refused

    async def on_erased(conn: asyncpg.Connection, event: PersonErased) -> None:
        await usecases.erase_borrower(conn, event.data.subject_id)

    # GET /loans?application_id= with `Prefer: wait=N` answers once the loan is opened.
    ctx.consume(GROUP_ID, (Topics.APPLICATIONS,), {LoanApproved: on_loan_approved}, announce=True)
    ctx.consume(ERASURES_GROUP_ID, (Topics.PRIVACY,), {PersonErased: on_erased})
    # Every bank's payments topic, a bank added later included; the topic names the bank, the payload must too.
    ctx.consume(
        BANK_PAYMENTS_GROUP_ID, (), {BankPayment: on_bank_payment},
        pattern=PartnerTopics.PAYMENTS_PATTERN, address=PartnerTopics.PAYMENTS_ADDRESS, refuse=sender_refusal,
    )


async def apply_bank_payment(conn: asyncpg.Connection, event: BankPayment, ctx: ServiceContext[ServicingSettings]) -> None:
    """A payment, or the reversal of one, as the lending bank would send it over HTTP; a repeat changes nothing."""
    d = event.data
    loan = await repository.get_loan(conn, d.loan_id)
    if loan is None:
        # The approval that opens the loan travels on another topic and may come second: wait for it.
        raise EventTooEarly(f"no loan {d.loan_id} yet: its approval has not arrived")
    if loan.status is domain.LoanStatus.PENDING_DISBURSEMENT and loan.bank_id == d.bank_id:
        # The bank confirms the disbursement over HTTP: its first payments may come before that confirmation.
        raise EventTooEarly(f"loan {d.loan_id} not disbursed yet: waiting for the bank's confirmation")
    # The bank's own topic proves the sender (its payload's bank was checked against it): the event acts as that bank.
    bank = Principal(subject=event.source, role=Role.BANK, bank_id=d.bank_id)
    if d.kind == "payment":
        payment = domain.NewPayment(bank_reference=d.bank_reference, amount_cents=d.amount_cents, received_on=d.received_on)
        await usecases.record_payment(conn, bank, d.loan_id, payment, today=ctx.clock.today(), now=ctx.clock.now())
        return
    if d.reversed_reference is None:
        raise EventRejected("a reversal must name the reference of the payment it reverses (`reversed_reference`)")
    reason = d.reason or f"reversed by the bank ({d.bank_reference})"
    reversal = domain.Reversal(reason=reason[:500], amount_cents=d.amount_cents)
    await usecases.reverse_payment(conn, bank, d.loan_id, d.reversed_reference, reversal, now=ctx.clock.now())
