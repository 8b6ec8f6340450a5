"""Servicing's ledger over random loans and random lives: payments, reversals and adjustments keep the books exact."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid5

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.servicing.domain import (
    Adjustment,
    AdjustmentAnswer,
    Disbursement,
    Instalment,
    Loan,
    LoanStatus,
    NewPayment,
    Payment,
    Reversal,
    Terms,
    answer_adjustment,
    as_instalments,
    disburse,
    due_cents,
    open_loan,
    payment_id_for,
    payoff_cents,
    plan,
    receive_payment,
    reverse_payment,
)
from shared.errors import BusinessRuleError
from shared.events import LoanApproved, new_event
from shared.events import LoanApprovedData

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
DISBURSED = date(2026, 3, 2)
IDS = UUID("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")


@dataclass(frozen=True)
class LoanTerms:
    """A random loan within the product's rules."""

    amount_cents: int
    annual_rate: Decimal
    months: int
    due_day: int


loans = st.builds(
    LoanTerms,
    amount_cents=st.integers(30_000, 800_000),
    annual_rate=st.integers(0, 2_000).map(lambda bp: Decimal(bp) / 10_000),
    months=st.integers(6, 84),
    due_day=st.integers(1, 31),
)
pay_step = st.tuples(st.just("pay"), st.sampled_from(["due", "partial", "payoff", "over", "any"]), st.integers(0, 10**6), st.integers(0, 70))
reverse_step = st.tuples(st.just("reverse"), st.integers(0, 100))
adjust_step = st.tuples(
    st.just("adjust"),
    st.one_of(
        st.builds(Terms, kind=st.just("pause"), months=st.integers(1, 12), with_interest=st.booleans()),
        st.builds(Terms, kind=st.just("extension"), months=st.integers(1, 24)),
        st.builds(Terms, kind=st.just("lower_instalment"), instalment_cents=st.integers(500, 100_000)),
    ),
    st.integers(0, 40),
)
lives = st.lists(st.one_of(pay_step, pay_step, reverse_step, adjust_step), max_size=25)


@dataclass
class Books:
    """A loan's state as servicing would store it."""

    loan: Loan
    lines: tuple[Instalment, ...]
    today: date = DISBURSED
    payments: dict[UUID, Payment] = field(default_factory=dict)
    adjustments: int = 0

    def pay(self, amount: int) -> None:
        reference = f"PRLV-{len(self.payments) + 1}"
        cmd = NewPayment(bank_reference=reference, amount_cents=amount, received_on=self.today)
        change = receive_payment(self.loan, self.lines, cmd, payment_id_for(self.loan.id, reference), self.today, NOW)
        self.loan, self.lines = change.loan, change.instalments
        self.payments[change.payment.id] = change.payment

    def reverse(self, payment: Payment) -> None:
        change = reverse_payment(self.loan, self.lines, payment, Reversal(reason="Prélèvement rejeté"), NOW)
        self.loan, self.lines = change.loan, change.instalments
        self.payments[payment.id] = change.payment

    def adjust(self, terms: Terms) -> None:
        self.adjustments += 1
        asked = Adjustment(
            id=uuid5(IDS, str(self.adjustments)), loan_id=self.loan.id, kind=terms.kind, terms=terms,
            reason="Baisse de revenus", requested_by="c-moreau", requested_at=NOW,
        )
        answered = answer_adjustment(
            self.loan, self.lines, asked, AdjustmentAnswer(accept=True), answered_by="svc-bank", today=self.today, now=NOW
        )
        assert answered.loan is not None and answered.plan is not None
        self.loan, self.lines = answered.loan, answered.plan.instalments


def open_books(terms: LoanTerms) -> Books:
    application_id = uuid5(IDS, f"{terms}")
    first_due = date(2026, 4, min(terms.due_day, 30))
    approval = new_event(
        LoanApproved, source="/services/assessment", subject=str(application_id), time=NOW,
        data=LoanApprovedData(
            association_id="secours-catholique", region="hauts-de-france", counsellor_id="c-lefebvre",
            application_id=application_id, bank_id="credit-mutuel-nord", amount_cents=terms.amount_cents,
            annual_rate=terms.annual_rate, duration_months=terms.months, first_due_date=first_due, instalment_day=terms.due_day,
        ),
    )
    pending, schedule = open_loan(approval, NOW)
    active, _ = disburse(pending, Disbursement(disbursed_on=DISBURSED, payee="borrower"), NOW)
    return Books(active, tuple(as_instalments(schedule)))


def live(terms: LoanTerms, steps: list[tuple]) -> Books:
    """Apply a life of payments, reversals and adjustments; steps that break a business rule are refused and skipped."""
    books = open_books(terms)
    check(books)
    for step in steps:
        try:
            apply(books, step)
        except BusinessRuleError:
            pass  # refused as a whole (a closed loan, an impossible target…): nothing was applied
        check(books)
    return books


def apply(books: Books, step: tuple) -> None:
    if step[0] == "pay":
        _, kind, raw, days = step
        books.today += timedelta(days=days)
        due, payoff = due_cents(books.lines, books.today), payoff_cents(books.lines, books.today)
        amount = {
            "due": due,
            "partial": 1 + raw % max(due, 1),
            "payoff": payoff,
            "over": payoff + 1 + raw % 50_000,
            "any": 1 + raw % (payoff + 1_000),
        }[kind]
        if amount > 0:
            books.pay(amount)
    elif step[0] == "reverse":
        live_payments = [p for p in books.payments.values() if p.reversed_at is None]
        if live_payments:
            books.reverse(live_payments[step[1] % len(live_payments)])
    else:
        _, terms, days = step
        books.today += timedelta(days=days)
        outstanding = books.loan.principal_outstanding_cents
        before = {i.number: i for i in books.lines if i.paid_cents}
        new = plan(books.loan, books.lines, terms, books.today)
        books.adjust(terms)
        # The adjustment itself never changes the principal outstanding; its new lines amortise exactly that.
        assert books.loan.principal_outstanding_cents == outstanding
        assert sum(i.principal_cents for i in new.new) == outstanding
        # Every line a payment touched is still there, with what it received.
        after = {i.number: i for i in books.lines}
        assert all(after[n].paid_cents == line.paid_cents for n, line in before.items())


def check(books: Books) -> None:
    """What must hold after anything."""
    loan, lines = books.loan, books.lines
    for i in lines:
        assert 0 <= i.interest_paid_cents <= i.interest_cents
        assert 0 <= i.principal_paid_cents <= i.principal_cents
        assert i.paid_cents == i.interest_paid_cents + i.principal_paid_cents
        assert i.amount_cents == i.principal_cents + i.interest_cents
        assert i.remaining_principal_cents >= 0
    assert len({i.number for i in lines}) == len(lines)
    # The schedule amortises the amount lent: repaid principal + what is left of it.
    assert sum(i.principal_cents for i in lines) == loan.amount_cents
    live_payments = [p for p in books.payments.values() if p.reversed_at is None]
    repaid = sum(p.principal_cents for p in live_payments)
    assert loan.principal_outstanding_cents == sum(i.principal_unpaid_cents for i in lines) >= 0
    assert repaid + loan.principal_outstanding_cents == loan.amount_cents
    for p in books.payments.values():
        assert p.interest_cents + p.principal_cents + p.overpaid_cents == p.amount_cents
        assert min(p.interest_cents, p.principal_cents, p.overpaid_cents) >= 0
    assert (loan.status is LoanStatus.CLOSED) == all(i.unpaid_cents == 0 for i in lines)


@settings(max_examples=200, deadline=None)
@given(terms=loans, steps=lives)
def test_the_books_balance_whatever_happens_to_a_loan(terms: LoanTerms, steps: list[tuple]) -> None:
    live(terms, steps)


@settings(max_examples=60, deadline=None)
@given(terms=loans, steps=lives)
def test_replaying_the_same_life_gives_the_same_books(terms: LoanTerms, steps: list[tuple]) -> None:
    first, second = live(terms, steps), live(terms, steps)

    assert (first.loan, first.lines, first.payments) == (second.loan, second.lines, second.payments)


@settings(max_examples=100, deadline=None)
@given(terms=loans, steps=lives, data=st.data())
def test_reversing_the_last_payment_restores_the_books_exactly(terms: LoanTerms, steps: list[tuple], data: st.DataObject) -> None:
    books = live(terms, steps)
    if books.loan.status is not LoanStatus.ACTIVE:
        return
    loan, lines = books.loan, books.lines
    books.today += timedelta(days=data.draw(st.integers(0, 40)))
    books.pay(data.draw(st.integers(1, payoff_cents(lines, books.today) + 5_000)))
    last = list(books.payments.values())[-1]

    books.reverse(last)

    assert books.lines == lines
    assert books.loan.principal_outstanding_cents == loan.principal_outstanding_cents
    assert books.loan.status is LoanStatus.ACTIVE


@settings(max_examples=100, deadline=None)
@given(terms=loans, days=st.integers(0, 3_000))
def test_the_payoff_closes_any_loan_on_any_day(terms: LoanTerms, days: int) -> None:
    books = open_books(terms)
    books.today += timedelta(days=days)

    books.pay(payoff_cents(books.lines, books.today))

    assert books.loan.status is LoanStatus.CLOSED
    assert books.loan.principal_outstanding_cents == 0
    assert list(books.payments.values())[-1].overpaid_cents == 0
