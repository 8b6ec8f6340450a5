"""Servicing's ledger, computed by hand: allocation, payoff, early and over-payments, reversals, adjustments.

Karim Haddad borrows 1,000 € over 6 months for his forklift licence (CACES). The rate is 12 % so that the
monthly rate is 1 % and every figure below can be checked with pencil and paper:

| n | due        | interest | principal | instalment | remaining |
|---|------------|----------|-----------|------------|-----------|
| 1 | 2026-04-05 |    10.00 |    162.55 |     172.55 |    837.45 |
| 2 | 2026-05-05 |     8.37 |    164.18 |     172.55 |    673.27 |
| 3 | 2026-06-05 |     6.73 |    165.82 |     172.55 |    507.45 |
| 4 | 2026-07-05 |     5.07 |    167.48 |     172.55 |    339.97 |
| 5 | 2026-08-05 |     3.40 |    169.15 |     172.55 |    170.82 |
| 6 | 2026-09-05 |     1.71 |    170.82 |     172.53 |      0.00 |
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.servicing.domain import (
    Adjustment,
    AdjustmentAnswer,
    AdjustmentRequest,
    Allocation,
    Disbursement,
    Instalment,
    LedgerChange,
    Loan,
    LoanStatus,
    NewPayment,
    Reversal,
    Terms,
    answer_adjustment,
    as_instalments,
    disburse,
    is_repeated_reversal,
    open_loan,
    payment_id_for,
    payoff_cents,
    plan,
    receive_payment,
    request_adjustment,
    reverse_payment,
    write_off,
)
from shared.errors import BusinessRuleError
from shared.events import LoanApproved, LoanClosed, LoanRescheduled, PaymentReceived, PaymentReversed, new_event
from shared.events import LoanApprovedData

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
DISBURSED = date(2026, 3, 2)
OWNERSHIP = {"association_id": "adie", "region": "ile-de-france", "counsellor_id": "c-moreau"}
INSTALMENT = 17_255


def karims_loan(amount: int = 100_000, rate: str = "0.12", months: int = 6) -> tuple[Loan, list[Instalment]]:
    """The loan, disbursed on 2 March 2026, and its schedule."""
    application_id = UUID("4b8e2f1a-6c3d-4e5f-9a0b-1c2d3e4f5a6b")
    approval = new_event(
        LoanApproved, source="/services/assessment", subject=str(application_id), time=NOW,
        data=LoanApprovedData(
            **OWNERSHIP, application_id=application_id, bank_id="credit-municipal-paris", amount_cents=amount,
            annual_rate=Decimal(rate), duration_months=months, first_due_date=date(2026, 4, 5), payee="AFTRAL Rungis",
        ),
    )
    pending, schedule = open_loan(approval, NOW)
    active, _ = disburse(pending, Disbursement(disbursed_on=DISBURSED, payee="AFTRAL Rungis"), NOW)
    return active, as_instalments(schedule)


def pay(loan: Loan, lines: list[Instalment] | tuple[Instalment, ...], amount: int, on: date, reference: str = "PRLV-1") -> LedgerChange:
    """The bank reports `amount` received on `on`, recorded that day."""
    cmd = NewPayment(bank_reference=reference, amount_cents=amount, received_on=on)
    return receive_payment(loan, lines, cmd, payment_id_for(loan.id, reference), on, NOW)


def by_number(lines: tuple[Instalment, ...] | list[Instalment]) -> dict[int, Instalment]:
    return {i.number: i for i in lines}


# --- the schedule ---------------------------------------------------------------------------------


def test_the_schedule_has_constant_instalments_on_the_declining_balance_the_last_absorbing_rounding() -> None:
    _, lines = karims_loan()

    assert [(i.interest_cents, i.principal_cents, i.amount_cents) for i in lines] == [
        (1_000, 16_255, 17_255), (837, 16_418, 17_255), (673, 16_582, 17_255),
        (507, 16_748, 17_255), (340, 16_915, 17_255), (171, 17_082, 17_253),
    ]
    assert sum(i.principal_cents for i in lines) == 100_000
    assert [i.due_date.day for i in lines] == [5] * 6


def approval_on_day(instalment_day: int | None, first_due: date) -> LoanApproved:
    application_id = UUID("5c9f3a2b-7d4e-4f60-8b1c-2d3e4f5a6b7c")
    return new_event(
        LoanApproved, source="/services/assessment", subject=str(application_id), time=NOW,
        data=LoanApprovedData(
            **OWNERSHIP, application_id=application_id, bank_id="credit-municipal-paris", amount_cents=100_000,
            annual_rate=Decimal("0.12"), duration_months=6, first_due_date=first_due, instalment_day=instalment_day,
        ),
    )


def test_instalments_fall_on_the_chosen_day_after_the_first_due_date() -> None:
    loan, schedule = open_loan(approval_on_day(10, date(2026, 4, 5)), NOW)

    assert loan.instalment_day == 10
    assert [line.due_date for line in schedule][:3] == [date(2026, 4, 5), date(2026, 5, 10), date(2026, 6, 10)]


def test_a_day_missing_from_a_month_falls_on_its_last_day_and_the_default_is_the_first_due_dates_day() -> None:
    chosen, schedule = open_loan(approval_on_day(31, date(2026, 1, 31)), NOW)
    default, _ = open_loan(approval_on_day(None, date(2026, 1, 31)), NOW)

    assert [line.due_date for line in schedule][:4] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert chosen.instalment_day == default.instalment_day == 31


# --- allocation -----------------------------------------------------------------------------------


def test_a_partial_payment_pays_the_interest_of_the_oldest_due_instalment_first() -> None:
    loan, lines = karims_loan()

    change = pay(loan, lines, 500, date(2026, 4, 5))

    assert change.payment.allocations == (Allocation(number=1, interest_cents=500),)
    first = by_number(change.instalments)[1]
    assert (first.interest_paid_cents, first.principal_paid_cents, first.unpaid_cents) == (500, 0, 16_755)
    assert change.loan.principal_outstanding_cents == 100_000


def test_a_payment_settles_the_oldest_due_instalment_then_the_next_interest_before_principal() -> None:
    loan, lines = karims_loan()

    change = pay(loan, lines, 20_000, date(2026, 5, 6))  # both April and May are due

    assert change.payment.allocations == (
        Allocation(number=1, interest_cents=1_000, principal_cents=16_255),
        Allocation(number=2, interest_cents=837, principal_cents=1_908),
    )
    assert (change.payment.interest_cents, change.payment.principal_cents, change.payment.overpaid_cents) == (1_837, 18_163, 0)
    assert change.loan.principal_outstanding_cents == 100_000 - 18_163


def test_a_payment_beyond_what_is_due_pays_the_next_instalment_in_advance() -> None:
    loan, lines = karims_loan()

    change = pay(loan, lines, 20_000, date(2026, 4, 5))  # only April is due

    assert change.payment.allocations == (
        Allocation(number=1, interest_cents=1_000, principal_cents=16_255),
        Allocation(number=2, interest_cents=837, principal_cents=1_908),
    )
    assert change.loan.status is LoanStatus.ACTIVE
    assert [e.type for e in change.events] == [PaymentReceived.event_type()]


def test_the_payoff_is_the_principal_outstanding_plus_the_interest_already_due() -> None:
    _, lines = karims_loan()

    assert payoff_cents(lines, date(2026, 3, 20)) == 100_000
    assert payoff_cents(lines, date(2026, 4, 5)) == 100_000 + 1_000
    assert payoff_cents(lines, date(2026, 5, 5)) == 100_000 + 1_000 + 837


def test_an_early_full_repayment_closes_the_loan_without_the_interest_of_months_to_come() -> None:
    loan, lines = karims_loan()

    change = pay(loan, lines, 101_000, date(2026, 4, 5))

    assert change.loan.status is LoanStatus.CLOSED and change.loan.closed_on == date(2026, 4, 5)
    assert (change.payment.interest_cents, change.payment.principal_cents, change.payment.overpaid_cents) == (1_000, 100_000, 0)
    assert sum(a.waived_interest_cents for a in change.payment.allocations) == 837 + 673 + 507 + 340 + 171
    assert all(i.unpaid_cents == 0 for i in change.instalments)
    assert change.loan.principal_outstanding_cents == 0
    closed = change.events[-1]
    assert isinstance(closed, LoanClosed) and closed.data.reason == "early_repayment"


def test_an_over_payment_closes_the_loan_and_keeps_the_excess_to_refund() -> None:
    loan, lines = karims_loan()

    change = pay(loan, lines, 105_321, date(2026, 4, 5))

    assert change.loan.status is LoanStatus.CLOSED
    assert change.payment.overpaid_cents == 4_321
    received = change.events[0]
    assert isinstance(received, PaymentReceived)
    assert (received.data.interest_cents, received.data.principal_cents, received.data.overpaid_cents) == (1_000, 100_000, 4_321)


def test_paying_every_instalment_on_its_due_date_closes_the_loan_as_repaid() -> None:
    loan, lines = karims_loan()
    state: tuple[Instalment, ...] = tuple(lines)
    interest = 0
    for line in lines:
        change = pay(loan, state, line.amount_cents, line.due_date, reference=f"PRLV-{line.number}")
        loan, state = change.loan, change.instalments
        interest += change.payment.interest_cents

    assert loan.status is LoanStatus.CLOSED and loan.closed_on == date(2026, 9, 5)
    assert interest == 1_000 + 837 + 673 + 507 + 340 + 171
    closed = change.events[-1]
    assert isinstance(closed, LoanClosed) and closed.data.reason == "repaid"


def test_a_payment_to_a_closed_loan_is_refused() -> None:
    loan, lines = karims_loan()
    closed = pay(loan, lines, 101_000, date(2026, 4, 5))

    with pytest.raises(BusinessRuleError) as refused:
        pay(closed.loan, closed.instalments, 1_000, date(2026, 4, 6), reference="PRLV-2")
    assert (refused.value.rule, refused.value.status) == ("state", 409)


@pytest.mark.parametrize(
    ("received_on", "today", "rule"),
    [(date(2026, 4, 6), date(2026, 4, 5), "not_future"), (date(2026, 3, 1), date(2026, 4, 5), "before_disbursement")],
)
def test_a_payment_dated_in_the_future_or_before_the_disbursement_is_refused(received_on: date, today: date, rule: str) -> None:
    loan, lines = karims_loan()
    cmd = NewPayment(bank_reference="VIR-1", amount_cents=INSTALMENT, received_on=received_on)

    with pytest.raises(BusinessRuleError) as refused:
        receive_payment(loan, lines, cmd, uuid4(), today, NOW)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("received_on", rule, 422)


def test_a_zero_rate_loan_divides_the_principal_evenly_and_closes_on_its_payoff() -> None:
    loan, lines = karims_loan(amount=120_000, rate="0", months=12)
    assert {(i.interest_cents, i.principal_cents) for i in lines} == {(0, 10_000)}

    partial = pay(loan, lines, 25_000, date(2026, 4, 5))
    assert [(a.number, a.principal_cents) for a in partial.payment.allocations] == [(1, 10_000), (2, 10_000), (3, 5_000)]
    assert payoff_cents(partial.instalments, date(2026, 4, 5)) == 95_000

    closed = pay(partial.loan, partial.instalments, 95_000, date(2026, 4, 5), reference="PRLV-2")
    assert closed.loan.status is LoanStatus.CLOSED and closed.payment.overpaid_cents == 0


# --- reversal -------------------------------------------------------------------------------------


def test_a_reversal_gives_back_exactly_what_the_payment_had_paid() -> None:
    loan, lines = karims_loan()
    april = pay(loan, lines, INSTALMENT, date(2026, 4, 5), reference="PRLV-04")
    may = pay(april.loan, april.instalments, 20_000, date(2026, 5, 5), reference="PRLV-05")

    rejected = reverse_payment(may.loan, may.instalments, may.payment, Reversal(reason="Prélèvement rejeté : provision insuffisante"), NOW)

    assert rejected.instalments == april.instalments
    assert rejected.loan.principal_outstanding_cents == april.loan.principal_outstanding_cents
    assert rejected.payment.reversed_at == NOW
    reversed_event = rejected.events[0]
    assert isinstance(reversed_event, PaymentReversed) and reversed_event.data.amount_cents == 20_000
    first_back = reverse_payment(rejected.loan, rejected.instalments, april.payment, Reversal(reason="Rejet"), NOW)
    assert list(first_back.instalments) == lines


def test_reversing_an_early_repayment_reopens_the_loan_and_its_interest() -> None:
    loan, lines = karims_loan()
    closed = pay(loan, lines, 105_321, date(2026, 4, 5))

    reopened = reverse_payment(closed.loan, closed.instalments, closed.payment, Reversal(reason="Virement rappelé"), NOW)

    assert reopened.loan.status is LoanStatus.ACTIVE and reopened.loan.closed_on is None
    assert list(reopened.instalments) == lines
    assert reopened.loan.principal_outstanding_cents == 100_000


def test_a_payment_is_reversed_only_once() -> None:
    loan, lines = karims_loan()
    april = pay(loan, lines, INSTALMENT, date(2026, 4, 5))
    rejected = reverse_payment(april.loan, april.instalments, april.payment, Reversal(reason="Rejet"), NOW)

    with pytest.raises(BusinessRuleError) as refused:
        reverse_payment(rejected.loan, rejected.instalments, rejected.payment, Reversal(reason="Rejet"), NOW)
    assert (refused.value.rule, refused.value.status) == ("already_reversed", 409)


def test_a_reversal_asked_again_for_a_payment_already_reversed_is_a_repeat_not_a_second_reversal() -> None:
    loan, lines = karims_loan()
    april = pay(loan, lines, INSTALMENT, date(2026, 4, 5))
    rejected = reverse_payment(april.loan, april.instalments, april.payment, Reversal(reason="Rejet"), NOW)

    assert is_repeated_reversal(april.payment, Reversal(reason="Rejet", amount_cents=INSTALMENT)) is False
    assert is_repeated_reversal(rejected.payment, Reversal(reason="Rejet, renvoyé par la banque")) is True


def test_a_reversal_stating_another_amount_than_the_payment_is_refused() -> None:
    loan, lines = karims_loan()
    april = pay(loan, lines, INSTALMENT, date(2026, 4, 5))

    with pytest.raises(BusinessRuleError) as refused:
        is_repeated_reversal(april.payment, Reversal(reason="Rejet", amount_cents=INSTALMENT - 1))
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("amount_cents", "not_the_payment_amount", 422)


# --- adjustments ----------------------------------------------------------------------------------

JUNE_10 = date(2026, 6, 10)  # April and May paid on time, June's instalment missed
OUTSTANDING = 100_000 - 16_255 - 16_418  # 673.27 €


def in_arrears() -> tuple[Loan, tuple[Instalment, ...]]:
    loan, lines = karims_loan()
    april = pay(loan, lines, INSTALMENT, date(2026, 4, 5), reference="PRLV-04")
    may = pay(april.loan, april.instalments, INSTALMENT, date(2026, 5, 5), reference="PRLV-05")
    return may.loan, may.instalments


def test_a_pause_with_interest_shifts_the_calendar_and_spreads_the_interest_over_the_instalments_after_it() -> None:
    loan, lines = in_arrears()

    new = plan(loan, lines, Terms(kind="pause", months=3, with_interest=True), JUNE_10)

    # June's unpaid interest (6.73 €) and three paused months at 1 % of 673.27 € (20.20 €), spread evenly.
    assert new.deferred_interest_cents == 673 + 2_020
    assert [i.number for i in new.kept] == [1, 2]
    assert [(i.number, i.due_date) for i in new.new] == [(7, date(2026, 10, 5)), (8, date(2026, 11, 5)), (9, date(2026, 12, 5))]
    assert sum(i.principal_cents for i in new.new) == OUTSTANDING
    assert [i.interest_cents for i in new.new] == [673 + 897, 451 + 897, 227 + 899]


def test_a_pause_without_interest_only_shifts_the_calendar() -> None:
    loan, lines = in_arrears()

    new = plan(loan, lines, Terms(kind="pause", months=3, with_interest=False), JUNE_10)

    assert new.deferred_interest_cents == 673  # June's interest, in arrears: still owed, not capitalised
    assert [i.due_date for i in new.new] == [date(2026, 10, 5), date(2026, 11, 5), date(2026, 12, 5)]
    assert sum(i.principal_cents for i in new.new) == OUTSTANDING


def test_an_extension_spreads_the_principal_outstanding_over_more_months_with_a_new_constant_instalment() -> None:
    loan, lines = in_arrears()

    new = plan(loan, lines, Terms(kind="extension", months=6), JUNE_10)

    assert len(new.new) == 3 + 6 and new.new[0].due_date == date(2026, 7, 5)
    assert sum(i.principal_cents for i in new.new) == OUTSTANDING
    assert {i.amount_cents for i in new.new[:-1]} == {7_934}  # 78.59 € amortised + 0.74 € of June's interest


def test_a_lower_instalment_takes_the_fewest_months_that_bring_the_instalment_under_the_target() -> None:
    loan, lines = in_arrears()

    new = plan(loan, lines, Terms(kind="lower_instalment", instalment_cents=10_000), JUNE_10)

    assert len(new.new) == 8 and new.new[0].amount_cents == 8_883
    assert sum(i.principal_cents for i in new.new) == OUTSTANDING


@pytest.mark.parametrize(
    ("target", "rule"),
    [(673, "below_monthly_interest"), (30_000, "not_lower"), (674, "term_too_long")],
    ids=["not even the monthly interest", "not lower than now", "beyond 84 instalments"],
)
def test_an_impossible_target_instalment_is_refused(target: int, rule: str) -> None:
    loan, lines = in_arrears()

    with pytest.raises(BusinessRuleError) as refused:
        plan(loan, lines, Terms(kind="lower_instalment", instalment_cents=target), JUNE_10)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("terms.instalment_cents", rule, 422)


@pytest.mark.parametrize(
    ("terms", "field", "rule"),
    [
        (Terms(kind="pause", months=2), "terms.with_interest", "required_for_kind"),
        (Terms(kind="extension", months=6, instalment_cents=9_000), "terms.instalment_cents", "not_for_kind"),
        (Terms(kind="lower_instalment"), "terms.instalment_cents", "required_for_kind"),
        (Terms(kind="pause", months=13, with_interest=False), "terms.months", "pause_too_long"),
        (Terms(kind="extension", months=82), "terms.months", "term_too_long"),
    ],
)
def test_each_kind_takes_its_own_terms(terms: Terms, field: str, rule: str) -> None:
    loan, lines = in_arrears()

    with pytest.raises(BusinessRuleError) as refused:
        plan(loan, lines, terms, JUNE_10)
    assert (refused.value.field, refused.value.rule) == (field, rule)


def test_a_partly_paid_instalment_is_kept_as_paid_and_a_later_reversal_stays_exact() -> None:
    loan, lines = in_arrears()
    june = pay(loan, lines, 5_000, JUNE_10, reference="VIR-06")  # 6.73 € interest, 43.27 € principal of June's

    new = plan(june.loan, june.instalments, Terms(kind="extension", months=6), JUNE_10)
    third = by_number(new.kept)[3]
    assert (third.interest_cents, third.principal_cents, third.unpaid_cents) == (673, 4_327, 0)
    assert new.deferred_interest_cents == 0
    assert sum(i.principal_cents for i in new.new) == OUTSTANDING - 4_327

    rescheduled = june.loan.model_copy(update={"schedule_version": 2})
    rejected = reverse_payment(rescheduled, new.instalments, june.payment, Reversal(reason="Virement rappelé"), NOW)
    assert by_number(rejected.instalments)[3].unpaid_cents == 5_000
    assert rejected.loan.principal_outstanding_cents == OUTSTANDING


def adjustment(terms: Terms, loan: Loan, lines: tuple[Instalment, ...]) -> Adjustment:
    request = AdjustmentRequest(terms=terms, reason="Perte d'une mission d'intérim : revenus en baisse jusqu'en septembre.")
    asked, _, _ = request_adjustment(
        loan, lines, request, adjustment_id=UUID("9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"), requested_by="c-moreau",
        open_request=None, today=JUNE_10, now=NOW,
    )
    return asked


def test_an_accepted_adjustment_makes_a_new_version_with_the_principal_outstanding_unchanged() -> None:
    loan, lines = in_arrears()
    asked = adjustment(Terms(kind="pause", months=2, with_interest=True), loan, lines)

    answered = answer_adjustment(loan, lines, asked, AdjustmentAnswer(accept=True), answered_by="svc-cmp", today=JUNE_10, now=NOW)

    assert answered.adjustment.status == "accepted" and answered.adjustment.schedule_version == 2
    assert answered.loan is not None and answered.loan.schedule_version == 2
    assert answered.loan.principal_outstanding_cents == loan.principal_outstanding_cents == OUTSTANDING
    event = answered.events[0]
    assert isinstance(event, LoanRescheduled)
    assert (event.data.remaining_instalments, event.data.next_due_date) == (3, date(2026, 9, 5))


def test_a_refusal_needs_a_reason_and_an_adjustment_is_answered_once() -> None:
    loan, lines = in_arrears()
    asked = adjustment(Terms(kind="extension", months=12), loan, lines)

    with pytest.raises(BusinessRuleError) as unexplained:
        answer_adjustment(loan, lines, asked, AdjustmentAnswer(accept=False), answered_by="svc-cmp", today=JUNE_10, now=NOW)
    assert unexplained.value.rule == "required_to_refuse"
    refused = answer_adjustment(
        loan, lines, asked, AdjustmentAnswer(accept=False, reason="Plan de surendettement en cours d'examen."),
        answered_by="svc-cmp", today=JUNE_10, now=NOW,
    )
    assert refused.adjustment.status == "refused" and refused.loan is None
    with pytest.raises(BusinessRuleError) as twice:
        answer_adjustment(loan, lines, refused.adjustment, AdjustmentAnswer(accept=True), answered_by="svc-cmp", today=JUNE_10, now=NOW)
    assert (twice.value.rule, twice.value.status) == ("already_answered", 409)


def test_one_request_at_a_time() -> None:
    loan, lines = in_arrears()
    asked = adjustment(Terms(kind="extension", months=12), loan, lines)

    with pytest.raises(BusinessRuleError) as refused:
        request_adjustment(
            loan, lines, AdjustmentRequest(terms=Terms(kind="extension", months=6), reason="Relance"),
            adjustment_id=uuid4(), requested_by="c-moreau", open_request=asked, today=JUNE_10, now=NOW,
        )
    assert (refused.value.rule, refused.value.status) == ("open_request", 409)


# --- write-off ------------------------------------------------------------------------------------


def test_a_write_off_claims_the_guaranteed_share_of_the_principal_outstanding_rounded_half_up() -> None:
    loan, lines = in_arrears()

    written_off, event = write_off(loan, lines, date(2026, 12, 2))

    assert written_off.status is LoanStatus.WRITTEN_OFF and written_off.written_off_on == date(2026, 12, 2)
    assert event.data.principal_outstanding_cents == OUTSTANDING
    assert event.data.guarantee_claim_cents == 33_664  # 50 % of 673.27 € = 336.635 €, half up
