"""The services' pure rules: disbursement, payments, alerts, ids (assessment's: test_assessment_domain.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.notifications.alerts import domain as alerts
from services.notifications.alerts import rules as alert_rules
from services.servicing.domain import (
    Disbursement,
    Instalment,
    Loan,
    LoanStatus,
    NewPayment,
    allocate,
    disburse,
    loan_id_for,
    open_loan,
    receive_payment,
)
from shared.errors import BusinessRuleError
from shared.events import LoanApproved, LoanDisbursed, PaymentMissed, new_event
from shared.events import LoanApprovedData, PaymentMissedData

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
TODAY = NOW.date()
OWNERSHIP = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-lefebvre"}
ROUTED_BANK = "credit-mutuel-nord"


def nadias_application(**overrides: Any) -> dict[str, Any]:
    """Nadia Benali: 1,350 € of resources, 820 € of charges, 3,000 € for a car over 36 months."""
    return {
        **OWNERSHIP,
        "applicant_name": "Nadia Benali",
        "purpose": "vehicle",
        "amount_cents": 300_000,
        "duration_months": 36,
        "monthly_resources_cents": 135_000,
        "monthly_charges_cents": 82_000,
        **overrides,
    }


# --- intake: see test_intake_domain.py ---------------------------------------------------------


# --- servicing ------------------------------------------------------------------------------------


def approved_loan_event(application_id: UUID | None = None) -> LoanApproved:
    application_id = application_id or uuid4()
    return new_event(
        LoanApproved,
        source="/services/assessment",
        subject=str(application_id),
        time=NOW,
        data=LoanApprovedData(
            **OWNERSHIP, application_id=application_id, bank_id=ROUTED_BANK, amount_cents=300_000,
            annual_rate=Decimal("0.035"), duration_months=36, first_due_date=date(2026, 4, 5),
        ),
    )


def pending_loan() -> Loan:
    return open_loan(approved_loan_event(), NOW)[0]


def test_the_loan_id_is_derived_from_the_application() -> None:
    application_id = UUID("7d3f9a52-1c4e-4b8a-9e21-5f6a7b8c9d0e")

    assert loan_id_for(application_id) == loan_id_for(UUID(str(application_id)))
    assert loan_id_for(application_id) != loan_id_for(uuid4())
    assert loan_id_for(application_id) != application_id


def test_an_approval_opens_a_loan_awaiting_disbursement_with_its_schedule() -> None:
    event = approved_loan_event()

    loan, schedule = open_loan(event, NOW)

    assert loan.id == loan_id_for(event.data.application_id)
    assert loan.status is LoanStatus.PENDING_DISBURSEMENT
    assert loan.guarantee_share == Decimal("0.5")
    assert len(schedule) == 36 and schedule[0].instalment_cents == 8_791


def test_a_loan_is_activated_by_its_disbursement() -> None:
    loan = pending_loan()

    active, event = disburse(loan, Disbursement(disbursed_on=TODAY, payee="Garage Dupont, Lens"), NOW)

    assert active.status is LoanStatus.ACTIVE
    assert (active.disbursed_on, active.payee) == (TODAY, "Garage Dupont, Lens")
    assert isinstance(event, LoanDisbursed)
    assert (event.subject, event.data.amount_cents) == (str(loan.id), 300_000)


def test_a_loan_is_disbursed_only_once() -> None:
    active, _ = disburse(pending_loan(), Disbursement(disbursed_on=TODAY, payee="borrower"), NOW)

    with pytest.raises(BusinessRuleError) as refused:
        disburse(active, Disbursement(disbursed_on=TODAY, payee="borrower"), NOW)
    assert (refused.value.rule, refused.value.status) == ("state", 409)


def test_a_disbursement_cannot_be_dated_in_the_future() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        disburse(pending_loan(), Disbursement(disbursed_on=TODAY + timedelta(days=1), payee="borrower"), NOW)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("disbursed_on", "not_future", 422)


def test_a_payment_is_refused_before_the_disbursement() -> None:
    payment = NewPayment(bank_reference="VIR-2026-04-05-0001", amount_cents=8_791, received_on=TODAY)

    with pytest.raises(BusinessRuleError) as refused:
        receive_payment(pending_loan(), [], payment, uuid4(), TODAY, NOW)
    assert refused.value.rule == "state"


def schedule(*amounts_and_paid: tuple[int, int]) -> list[Instalment]:
    """Instalments of 87.91 € from 5 April 2026, with what is already paid of each."""
    return [
        Instalment(number=n, due_date=date(2026, 3 + n, 5), principal_cents=0, interest_cents=0, amount_cents=amount,
                   remaining_principal_cents=0, paid_cents=paid)
        for n, (amount, paid) in enumerate(amounts_and_paid, start=1)
    ]


def test_a_payment_settles_the_oldest_instalments_first() -> None:
    instalments = schedule((8_791, 5_000), (8_791, 0), (8_791, 0))

    assert allocate(instalments, 10_000) == {1: 3_791, 2: 6_209}


def test_a_payment_skips_instalments_already_paid_whatever_their_order_in_the_list() -> None:
    instalments = list(reversed(schedule((8_791, 8_791), (8_791, 0), (8_791, 0))))

    assert allocate(instalments, 8_791) == {2: 8_791}


def test_a_payment_of_everything_owed_is_accepted() -> None:
    assert allocate(schedule((8_791, 0), (8_800, 0)), 17_591) == {1: 8_791, 2: 8_800}


def test_a_payment_larger_than_what_is_owed_is_refused() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        allocate(schedule((8_791, 8_000), (8_791, 0)), 10_000)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("amount_cents", "not_more_than_owed", 422)
    assert "418 cents" in refused.value.detail  # 100.00 € against 95.82 € still owed


# --- notifications --------------------------------------------------------------------------------


def missed(**overrides: Any) -> PaymentMissed:
    facts = {
        **OWNERSHIP, "loan_id": uuid4(), "application_id": uuid4(), "instalment_number": 3,
        "due_date": date(2026, 6, 5), "amount_due_cents": 8_791, "amount_unpaid_cents": 4_291,
        "business_date": date(2026, 6, 6), **overrides,
    }
    return new_event(PaymentMissed, source="/services/servicing", subject=str(facts["loan_id"]), time=NOW,
                     data=PaymentMissedData(**facts))


def raised_for(event: PaymentMissed, now: datetime = NOW) -> tuple[alerts.Alert, Any]:
    """What the service does with a missed instalment of a loan it has no history of: the rule's draft, raised."""
    _, [draft] = alert_rules.on_payment_missed(event, alert_rules.LoanFollowUp(loan_id=event.data.loan_id))
    return alerts.raise_alert(draft, now, timedelta(hours=48))


def test_a_missed_instalment_alerts_the_borrowers_counsellor_in_french() -> None:
    event = missed()

    alert, raised = raised_for(event)

    assert alert.message == "Échéance n° 3 du 05/06/2026 impayée (42,91 € sur 87,91 €) : contacter l'emprunteur."
    assert (alert.counsellor_id, alert.severity, alert.status) == ("c-lefebvre", "warning", "open")
    assert (alert.loan_id, alert.application_id) == (event.data.loan_id, event.data.application_id)
    assert raised.data.message == alert.message
    assert raised.subject == str(alert.id)


def test_one_cause_always_gives_the_same_alert_id() -> None:
    event = missed()

    first, _ = raised_for(event)
    again, _ = raised_for(event, NOW + timedelta(hours=1))
    other, _ = raised_for(missed())

    assert first.id == again.id
    assert first.id != other.id
    assert first.cause_event_id == event.id


def test_alert_amounts_are_written_the_french_way() -> None:
    alert, _ = raised_for(missed(amount_due_cents=123_456, amount_unpaid_cents=123_456))

    assert "(1\u202f234,56 € sur 1\u202f234,56 €)" in alert.message  # narrow no-break space between thousands, decimal comma
