"""Payments and reversals on a loan's schedule: allocation, payoff, early repayment, over-payment (pure).

The rules, in the order a payment meets them:
1. instalments already due on the day the money was received, oldest first, interest before principal;
2. if what is left covers the payoff (the principal of the instalments not yet due), the loan closes:
   their principal is paid, their interest — not owed, the period has not run — is waived, and any excess
   is recorded as over-paid, to refund;
3. otherwise what is left pays the next instalments in order, interest before principal (early payment).
Every cent a payment moved is kept in its allocations, so a reversal gives back exactly what it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from services.servicing.domain.loans import Instalment, Loan, LoanStatus, loan_event
from services.servicing.domain.payments import Allocation, NewPayment, Payment, Reversal
from shared.errors import BusinessRuleError
from shared.events import LoanClosed, PaymentReceived, PaymentReversed
from shared.events import LoanClosedData, PaymentReceivedData, PaymentReversedData
from shared.events.envelope import Envelope
from shared.events.vocabulary import DelinquencyStage

@dataclass(frozen=True)
class LedgerChange:
    """A loan and its schedule after a payment or reversal, with the payment and the events to publish."""

    loan: Loan
    instalments: tuple[Instalment, ...]
    payment: Payment
    events: tuple[Envelope[Any], ...]


def in_order(instalments: Sequence[Instalment]) -> list[Instalment]:
    """Instalments oldest first."""
    return sorted(instalments, key=lambda i: (i.due_date, i.number))


def allocate(instalments: Sequence[Instalment], amount_cents: int) -> dict[int, int]:
    """Spread an amount over the oldest unpaid instalments first: instalment number → cents applied."""
    applied: dict[int, int] = {}
    left = amount_cents
    for inst in in_order(instalments):
        if left == 0:
            break
        take = min(left, inst.unpaid_cents)
        if take:
            applied[inst.number] = take
            left -= take
    if left:
        raise BusinessRuleError(
            f"the payment exceeds what is owed by {left} cents", field="amount_cents", rule="not_more_than_owed", status=422
        )
    return applied


def pay(inst: Instalment, cents: int) -> tuple[Instalment, Allocation]:
    """Apply `cents` to one instalment, interest before principal."""
    interest = min(cents, inst.interest_unpaid_cents)
    principal = cents - interest
    if principal > inst.principal_unpaid_cents:
        raise ValueError(f"{cents} cents exceed what instalment {inst.number} owes")
    paid = inst.model_copy(
        update={
            "interest_paid_cents": inst.interest_paid_cents + interest,
            "principal_paid_cents": inst.principal_paid_cents + principal,
            "paid_cents": inst.paid_cents + cents,
        }
    )
    return paid, Allocation(number=inst.number, interest_cents=interest, principal_cents=principal)


def settle_early(inst: Instalment) -> tuple[Instalment, Allocation]:
    """Pay an instalment not yet due by its principal alone: its interest is waived."""
    waived = inst.interest_unpaid_cents
    settled = inst.model_copy(
        update={
            "interest_cents": inst.interest_paid_cents,
            "amount_cents": inst.amount_cents - waived,
            "principal_paid_cents": inst.principal_cents,
            "paid_cents": inst.paid_cents + inst.principal_unpaid_cents,
        }
    )
    return settled, Allocation(number=inst.number, principal_cents=inst.principal_unpaid_cents, waived_interest_cents=waived)


def due_cents(instalments: Sequence[Instalment], on: date) -> int:
    """What is due and unpaid on `on` (interest and principal)."""
    return sum(i.unpaid_cents for i in instalments if i.due_date <= on)


def payoff_cents(instalments: Sequence[Instalment], on: date) -> int:
    """What closes the loan on `on`: all principal outstanding plus the interest of the instalments already due."""
    return due_cents(instalments, on) + sum(i.principal_unpaid_cents for i in instalments if i.due_date > on)


def principal_outstanding(instalments: Sequence[Instalment]) -> int:
    """Principal scheduled and not paid yet."""
    return sum(i.principal_unpaid_cents for i in instalments)


def _check_payable(loan: Loan, cmd: NewPayment, today: date) -> None:
    if loan.status is not LoanStatus.ACTIVE:
        raise BusinessRuleError(f"the loan is {loan.status.value}, not active", field="amount_cents", rule="state")
    if cmd.received_on > today:
        raise BusinessRuleError("a payment cannot be received in the future", field="received_on", rule="not_future", status=422)
    if loan.disbursed_on is not None and cmd.received_on < loan.disbursed_on:
        raise BusinessRuleError(
            f"a payment cannot be received before the disbursement ({loan.disbursed_on})",
            field="received_on", rule="before_disbursement", status=422,
        )


def receive_payment(
    loan: Loan, instalments: Sequence[Instalment], cmd: NewPayment, payment_id: UUID, today: date, now: datetime
) -> LedgerChange:
    """Apply a payment received on `cmd.received_on`; close the loan when it pays everything still owed."""
    _check_payable(loan, cmd, today)
    on = cmd.received_on
    lines = {i.number: i for i in instalments}
    allocations: list[Allocation] = []

    def apply(numbers_and_cents: dict[int, int]) -> None:
        for number, cents in numbers_and_cents.items():
            lines[number], allocation = pay(lines[number], cents)
            allocations.append(allocation)

    due = [i for i in instalments if i.due_date <= on]
    ahead = [i for i in in_order(instalments) if i.due_date > on and i.unpaid_cents]
    to_dues = min(cmd.amount_cents, due_cents(due, on))
    apply(allocate(due, to_dues))
    left = cmd.amount_cents - to_dues
    overpaid = 0
    closes = left >= sum(i.principal_unpaid_cents for i in ahead) and due_cents(lines.values(), on) == 0
    if closes:
        for inst in ahead:
            lines[inst.number], allocation = settle_early(inst)
            allocations.append(allocation)
        overpaid = left - sum(i.principal_unpaid_cents for i in ahead)
    else:
        apply(allocate(ahead, left))

    after = tuple(lines[i.number] for i in instalments)
    payment = Payment(
        id=payment_id,
        loan_id=loan.id,
        bank_reference=cmd.bank_reference,
        amount_cents=cmd.amount_cents,
        received_on=on,
        recorded_at=now,
        interest_cents=sum(a.interest_cents for a in allocations),
        principal_cents=sum(a.principal_cents for a in allocations),
        overpaid_cents=overpaid,
        allocations=tuple(allocations),
    )
    updated = loan.model_copy(update={"principal_outstanding_cents": principal_outstanding(after)})
    events: list[Envelope[Any]] = [_received(loan, payment, now)]
    if closes:
        updated = close(updated, on)
        events.append(_closed(loan, on, "early_repayment" if ahead else "repaid", now))
    return LedgerChange(loan=updated, instalments=after, payment=payment, events=tuple(events))


def close(loan: Loan, on: date) -> Loan:
    """A loan with nothing left to pay: closed, and no longer in arrears."""
    return loan.model_copy(
        update={"status": LoanStatus.CLOSED, "closed_on": on, "arrears_cents": 0, "days_past_due": 0, "delinquency_stage": DelinquencyStage.CURRENT}
    )


def reverse_payment(
    loan: Loan, instalments: Sequence[Instalment], payment: Payment, cmd: Reversal, now: datetime
) -> LedgerChange:
    """Give back to each instalment exactly what the payment had paid of it; reopen the loan it had closed."""
    if payment.reversed_at is not None:
        raise BusinessRuleError("the payment is already reversed", field="payment_id", rule="already_reversed")
    if loan.status not in (LoanStatus.ACTIVE, LoanStatus.CLOSED):
        raise BusinessRuleError(f"the loan is {loan.status.value}: its ledger is frozen", field="payment_id", rule="state")
    lines = {i.number: i for i in instalments}
    for a in payment.allocations:
        inst = lines.get(a.number)
        if inst is None or inst.interest_paid_cents < a.interest_cents or inst.principal_paid_cents < a.principal_cents:
            raise BusinessRuleError(
                f"instalment {a.number} no longer holds what the payment paid", field="payment_id", rule="inconsistent_ledger"
            )
        lines[a.number] = inst.model_copy(
            update={
                "interest_cents": inst.interest_cents + a.waived_interest_cents,
                "amount_cents": inst.amount_cents + a.waived_interest_cents,
                "interest_paid_cents": inst.interest_paid_cents - a.interest_cents,
                "principal_paid_cents": inst.principal_paid_cents - a.principal_cents,
                "paid_cents": inst.paid_cents - a.interest_cents - a.principal_cents,
            }
        )
    after = tuple(lines[i.number] for i in instalments)
    updated = loan.model_copy(update={"principal_outstanding_cents": principal_outstanding(after)})
    if updated.status is LoanStatus.CLOSED and any(i.unpaid_cents for i in after):
        updated = updated.model_copy(update={"status": LoanStatus.ACTIVE, "closed_on": None})
    reversed_payment = payment.model_copy(update={"reversed_at": now, "reversal_reason": cmd.reason})
    event = loan_event(
        PaymentReversed,
        loan,
        now,
        PaymentReversedData(
            **loan.ownership(),
            loan_id=loan.id,
            payment_id=payment.id,
            bank_reference=payment.bank_reference,
            amount_cents=payment.amount_cents,
            reason=cmd.reason,
        ),
    )
    return LedgerChange(loan=updated, instalments=after, payment=reversed_payment, events=(event,))


def _received(loan: Loan, payment: Payment, now: datetime) -> PaymentReceived:
    return loan_event(
        PaymentReceived,
        loan,
        now,
        PaymentReceivedData(
            **loan.ownership(),
            loan_id=loan.id,
            payment_id=payment.id,
            bank_reference=payment.bank_reference,
            amount_cents=payment.amount_cents,
            received_on=payment.received_on,
            interest_cents=payment.interest_cents,
            principal_cents=payment.principal_cents,
            overpaid_cents=payment.overpaid_cents,
        ),
    )


def _closed(loan: Loan, on: date, reason: Literal["repaid", "early_repayment"], now: datetime) -> LoanClosed:
    return loan_event(
        LoanClosed, loan, now, LoanClosedData(**loan.ownership(), loan_id=loan.id, application_id=loan.application_id, closed_on=on, reason=reason)
    )
