"""The alert rules, one by one: who hears of what, how urgently, and only once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from services.notifications import backoff
from services.notifications.alerts import domain, rules
from services.notifications.alerts.domain import Alert
from services.notifications.alerts.rules import LoanFollowUp
from services.notifications.email import letters
from services.notifications.webhooks import domain as webhooks
from shared.errors import BusinessRuleError
from shared.events import (
    AdjustmentRefused,
    AdjustmentRequested,
    AlertEscalated,
    ApplicationAssessed,
    BankDecisionOverdue,
    CounsellorAlertRaised,
    DelinquencyStageChanged,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    LoanRescheduled,
    PaymentMissed,
    new_event,
)
from shared.events import (
    AdjustmentRefusedData,
    AdjustmentRequestedData,
    AdjustmentTerms,
    ApplicationAssessedData,
    BankDecisionOverdueData,
    BudgetDiagnostic,
    DelinquencyStageChangedData,
    LoanApprovedData,
    LoanDeclinedData,
    LoanDisbursedData,
    LoanRescheduledData,
    PaymentMissedData,
)
from tests.support.notifications import verify

pytestmark = pytest.mark.unit

NOW = datetime(2026, 4, 6, 8, 30, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
OWNER = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-lefebvre"}
LOAN, FILE = uuid4(), uuid4()
DELAY = timedelta(hours=48)


def missed(number: int = 1, due: date = date(2026, 4, 5), business: date | None = None, **owner: Any) -> PaymentMissed:
    """Servicing says instalment `number` (87.91 €) is unpaid."""
    return new_event(
        PaymentMissed, source="/services/servicing", subject=str(LOAN), time=NOW,
        data=PaymentMissedData(
            **{**OWNER, **owner}, loan_id=LOAN, application_id=FILE, instalment_number=number, due_date=due,
            amount_due_cents=8_791, amount_unpaid_cents=8_791, business_date=business or due + timedelta(days=1),
        ),
    )


def stage_changed(previous: str, stage: str, days: int, business: date = date(2026, 5, 6)) -> DelinquencyStageChanged:
    """The close of business moved the loan to another stage."""
    return new_event(
        DelinquencyStageChanged, source="/services/servicing", subject=str(LOAN), time=NOW,
        data=DelinquencyStageChangedData(
            **OWNER, loan_id=LOAN, application_id=FILE, previous_stage=previous, stage=stage, days_past_due=days,
            arrears_cents=17_582, business_date=business,
        ),
    )


def assessed(outcome: str = "incomplete", missing: list[str] | None = None, at: datetime = NOW) -> ApplicationAssessed:
    """The counsellor's assessment of Nadia Benali's file."""
    return new_event(
        ApplicationAssessed, source="/services/assessment", subject=str(FILE), time=at,
        data=ApplicationAssessedData(
            **OWNER, application_id=FILE, outcome=outcome,  # type: ignore[arg-type]
            diagnostic=BudgetDiagnostic(
                monthly_resources_cents=135_000, monthly_charges_cents=82_000, monthly_instalment_cents=8_791,
                remaining_after_instalment_cents=44_209,
            ),
            opinion="Il manque l'avis d'imposition et le justificatif de domicile.",
            missing_documents=missing if missing is not None else ["tax_notice", "proof_of_address"],
        ),
    )


def open_alert(**changes: Any) -> Alert:
    """c-lefebvre's open warning about a missed payment, raised two days ago."""
    draft = rules.on_payment_missed(missed(), LoanFollowUp(loan_id=LOAN))[1][0]
    alert, _ = domain.raise_alert(draft, NOW - DELAY, DELAY)
    return alert.model_copy(update=changes)


# --- payment missed: the counsellor, more urgently as the loan slips ------------------------------


def test_a_first_missed_instalment_alerts_the_counsellor_with_a_warning() -> None:
    followup, drafts = rules.on_payment_missed(missed(), LoanFollowUp(loan_id=LOAN))

    [alert] = drafts
    assert (alert.audience, alert.counsellor_id, alert.severity) == ("counsellor", "c-lefebvre", "warning")
    assert alert.message == "Échéance n° 1 du 05/04/2026 impayée (87,91 € sur 87,91 €) : contacter l'emprunteur."
    assert (alert.loan_id, alert.application_id) == (LOAN, FILE)
    assert (followup.last_missed_instalment, followup.missed_streak, followup.stage) == (1, 1, "1-30")


def test_a_missed_instalment_on_a_loan_past_31_days_is_critical() -> None:
    late = LoanFollowUp(loan_id=LOAN, stage="31-60", days_past_due=36, stage_as_of=date(2026, 5, 10))

    _, [alert] = rules.on_payment_missed(missed(3, due=date(2026, 6, 5)), late)

    assert alert.severity == "critical"
    assert "31 à 60 jours de retard" in alert.message


def test_the_second_missed_instalment_in_a_row_also_goes_to_the_supervisors() -> None:
    after_first, _ = rules.on_payment_missed(missed(1), LoanFollowUp(loan_id=LOAN))

    after_second, drafts = rules.on_payment_missed(missed(2, due=date(2026, 5, 5)), after_first)

    counsellor, supervisor = drafts
    assert (counsellor.audience, counsellor.severity) == ("counsellor", "critical")
    assert (supervisor.audience, supervisor.severity, supervisor.escalation) == ("supervisor", "critical", "consecutive_missed_instalments")
    assert supervisor.message.startswith("Deuxième échéance impayée d'affilée (n° 2 du 05/05/2026) sur un prêt suivi par c-lefebvre")
    assert supervisor.cause_event_id == counsellor.cause_event_id
    assert after_second.missed_streak == 2


def test_the_third_missed_instalment_in_a_row_does_not_escalate_again() -> None:
    followup = LoanFollowUp(loan_id=LOAN, last_missed_instalment=2, missed_streak=2, stage="31-60", days_past_due=31)

    _, drafts = rules.on_payment_missed(missed(3, due=date(2026, 6, 5)), followup)

    assert [d.audience for d in drafts] == ["counsellor"]


def test_instalments_missed_apart_are_not_in_a_row() -> None:
    followup, _ = rules.on_payment_missed(missed(1), LoanFollowUp(loan_id=LOAN))

    _, drafts = rules.on_payment_missed(missed(3, due=date(2026, 6, 5)), followup)

    assert [d.audience for d in drafts] == ["counsellor"]


def test_a_loan_back_to_current_starts_the_run_of_missed_instalments_afresh() -> None:
    followup, _ = rules.on_payment_missed(missed(1), LoanFollowUp(loan_id=LOAN))
    caught_up, _ = rules.on_stage_changed(stage_changed("1-30", "current", 0, business=date(2026, 4, 20)), followup)

    _, drafts = rules.on_payment_missed(missed(2, due=date(2026, 5, 5)), caught_up)

    assert [(d.audience, d.severity) for d in drafts] == [("counsellor", "warning")]


def test_a_file_nobody_follows_goes_to_the_associations_shared_queue() -> None:
    _, [alert] = rules.on_payment_missed(missed(counsellor_id=""), LoanFollowUp(loan_id=LOAN))

    assert alert.audience == "association"


# --- delinquency stage: 31 days past due is the supervisors' business -----------------------------


def test_a_loan_reaching_31_days_past_due_alerts_the_supervisors() -> None:
    followup, [alert] = rules.on_stage_changed(stage_changed("1-30", "31-60", 31), LoanFollowUp(loan_id=LOAN))

    assert (alert.audience, alert.severity, alert.escalation) == ("supervisor", "critical", "thirty_one_days_past_due")
    assert "a atteint 31 jours de retard (arriérés de 175,82 €)" in alert.message
    assert (followup.stage, followup.days_past_due, followup.stage_as_of) == ("31-60", 31, date(2026, 5, 6))


@pytest.mark.parametrize(("previous", "stage", "days"), [("current", "1-30", 1), ("31-60", "61-90", 61), ("61-90", "90+", 91)])
def test_other_stage_changes_raise_no_alert(previous: str, stage: str, days: int) -> None:
    followup, drafts = rules.on_stage_changed(stage_changed(previous, stage, days), LoanFollowUp(loan_id=LOAN))

    assert drafts == []
    assert followup.stage == stage


def test_an_older_close_of_business_read_late_does_not_move_the_stage_back() -> None:
    recent = LoanFollowUp(loan_id=LOAN, stage="31-60", days_past_due=35, stage_as_of=date(2026, 5, 10))

    followup, drafts = rules.on_stage_changed(stage_changed("current", "1-30", 1, business=date(2026, 4, 6)), recent)

    assert (followup.stage, drafts) == ("31-60", [])


# --- the bank's decisions and the loan's life: the counsellor --------------------------------------


def test_the_banks_approval_tells_the_counsellor_the_terms() -> None:
    approved = new_event(
        LoanApproved, source="/services/assessment", subject=str(FILE), time=NOW,
        data=LoanApprovedData(
            **OWNER, application_id=FILE, bank_id="credit-mutuel-nord", amount_cents=300_000, annual_rate=Decimal("0.035"),
            duration_months=36, first_due_date=date(2026, 4, 5),
        ),
    )

    alert = rules.on_loan_approved(approved)

    assert (alert.audience, alert.severity, alert.application_id) == ("counsellor", "info", FILE)
    assert alert.message.startswith("La banque credit-mutuel-nord a accordé le prêt : 3\u202f000,00 € sur 36 mois à 3,5 %")


def test_the_banks_refusal_is_a_warning_with_its_reason() -> None:
    declined = new_event(
        LoanDeclined, source="/services/assessment", subject=str(FILE), time=NOW,
        data=LoanDeclinedData(**OWNER, application_id=FILE, bank_id="la-banque-postale", reason="Taux d'endettement trop élevé"),
    )

    alert = rules.on_loan_declined(declined)

    assert alert.severity == "warning"
    assert "(motif : Taux d'endettement trop élevé)" in alert.message


def test_a_disbursement_reminds_the_counsellor_of_the_first_instalment() -> None:
    disbursed = new_event(
        LoanDisbursed, source="/services/servicing", subject=str(LOAN), time=NOW,
        data=LoanDisbursedData(**OWNER, loan_id=LOAN, application_id=FILE, amount_cents=300_000, disbursed_on=date(2026, 3, 10), payee="Garage Dupont, Lens"),
    )

    alert = rules.on_loan_disbursed(disbursed)

    assert (alert.severity, alert.loan_id) == ("info", LOAN)
    assert alert.message.startswith("Prêt décaissé le 10/03/2026 : 3\u202f000,00 € versés à Garage Dupont, Lens.")


def test_an_accepted_adjustment_gives_the_new_calendar_on_the_loans_file() -> None:
    rescheduled = new_event(
        LoanRescheduled, source="/services/servicing", subject=str(LOAN), time=NOW,
        data=LoanRescheduledData(
            **OWNER, loan_id=LOAN, adjustment_id=uuid4(), terms=AdjustmentTerms(kind="extension", months=12), schedule_version=2,
            principal_outstanding_cents=240_000, instalment_cents=6_210, remaining_instalments=40, next_due_date=date(2026, 6, 5),
        ),
    )

    alert = rules.on_loan_rescheduled(rescheduled, LoanFollowUp(loan_id=LOAN, application_id=FILE))

    assert (alert.severity, alert.application_id) == ("info", FILE)
    assert "nouvelle échéance de 62,10 € (40 échéances restantes), prochaine échéance le 05/06/2026" in alert.message


def test_a_refused_adjustment_is_a_warning() -> None:
    refused = new_event(
        AdjustmentRefused, source="/services/servicing", subject=str(LOAN), time=NOW,
        data=AdjustmentRefusedData(**OWNER, loan_id=LOAN, adjustment_id=uuid4(), reason="Deux pauses déjà accordées"),
    )

    alert = rules.on_adjustment_refused(refused, LoanFollowUp(loan_id=LOAN))

    assert (alert.audience, alert.severity) == ("counsellor", "warning")
    assert "Deux pauses déjà accordées" in alert.message


def test_a_file_without_bank_decision_for_30_days_alerts_the_counsellor() -> None:
    overdue = new_event(
        BankDecisionOverdue, source="/services/assessment", subject=str(FILE), time=NOW,
        data=BankDecisionOverdueData(**OWNER, application_id=FILE, bank_id="credit-mutuel-nord", routed_on=date(2026, 3, 4), days_waiting=30),
    )

    alert = rules.on_bank_decision_overdue(overdue)

    assert alert.message == "Aucune décision de la banque credit-mutuel-nord depuis 30 jours (dossier transmis le 04/03/2026) : relancer la banque."


# --- incomplete files ------------------------------------------------------------------------------


def test_only_an_incomplete_assessment_starts_watching_the_file() -> None:
    assert rules.incomplete_file(assessed("favourable")) is None
    watched = rules.incomplete_file(assessed())
    assert watched is not None and watched.missing_documents == ("tax_notice", "proof_of_address")


def test_documents_received_or_verified_are_no_longer_missing() -> None:
    missing = rules.still_missing(("tax_notice", "proof_of_address"), {"tax_notice": "received", "proof_of_address": "missing"})

    assert missing == ("proof_of_address",)


def test_a_file_incomplete_past_the_delay_alerts_its_counsellor_naming_the_documents() -> None:
    watched = rules.incomplete_file(assessed(at=NOW - timedelta(days=16)))
    assert watched is not None

    early = rules.incomplete_file_alert(watched, NOW - timedelta(days=2), timedelta(days=15))
    alert = rules.incomplete_file_alert(watched, NOW, timedelta(days=15))

    assert early is None
    assert alert is not None and (alert.audience, alert.severity) == ("counsellor", "warning")
    assert alert.message.startswith("Dossier incomplet depuis 16 jours : il manque avis d'imposition ou de non-imposition, justificatif de domicile.")


# --- escalation of an alert nobody acknowledged ----------------------------------------------------


def test_an_open_alert_past_its_deadline_goes_to_the_supervisors() -> None:
    alert = open_alert()

    draft = rules.escalation_of(alert, NOW)

    assert draft is not None
    assert (draft.audience, draft.escalation, draft.escalated_from) == ("supervisor", "not_acknowledged", alert.id)
    assert draft.cause_event_id == alert.cause_event_id  # the same cause: a rule's escalation and this one are one alert
    assert draft.message.startswith("Alerte non prise en compte depuis 48 h (c-lefebvre) : Échéance n° 1")


@pytest.mark.parametrize("changes", [{"status": "acknowledged"}, {"escalated_at": NOW}, {"escalate_at": None}, {"escalate_at": NOW + timedelta(hours=1)}])
def test_an_acknowledged_escalated_informative_or_recent_alert_does_not_escalate(changes: dict[str, Any]) -> None:
    assert rules.escalation_of(open_alert(**changes), NOW) is None


# --- one alert per cause and audience; the inbox's actions -----------------------------------------


def test_one_cause_gives_one_alert_id_per_audience() -> None:
    cause = uuid4()

    assert domain.alert_id(cause, "counsellor") == domain.alert_id(cause, "counsellor") == domain.alert_id(cause, "association")
    assert domain.alert_id(cause, "supervisor") != domain.alert_id(cause, "counsellor")


def test_a_counsellors_alert_is_raised_and_a_supervisors_escalated() -> None:
    after_first, _ = rules.on_payment_missed(missed(1), LoanFollowUp(loan_id=LOAN))
    _, (mine, theirs) = rules.on_payment_missed(missed(2, due=date(2026, 5, 5)), after_first)

    alert, raised = domain.raise_alert(mine, NOW, DELAY)
    escalation, escalated = domain.raise_alert(theirs, NOW, DELAY)

    assert isinstance(raised, CounsellorAlertRaised) and raised.subject == str(alert.id)
    assert alert.escalate_at == NOW + DELAY
    assert isinstance(escalated, AlertEscalated) and escalated.data.reason == "consecutive_missed_instalments"
    assert escalation.escalate_at is None  # supervisors' alerts do not escalate further


def test_acknowledging_twice_publishes_once_and_resolving_a_resolved_alert_is_refused() -> None:
    alert = open_alert()

    acked, event = domain.acknowledge(alert, "c-lefebvre", NOW)
    again, none = domain.acknowledge(acked, "c-lefebvre", NOW + timedelta(minutes=5))
    resolved = domain.resolve(again, "c-lefebvre", "Pause de deux mois demandée à la banque.", NOW)

    assert event is not None and event.data.acknowledged_by == "c-lefebvre"
    assert (acked.status, acked.escalate_at, none, again) == ("acknowledged", None, None, acked)
    with pytest.raises(BusinessRuleError) as refused:
        domain.resolve(resolved, "c-lefebvre", "encore", NOW)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("status", "state", 409)


def test_a_resolution_keeps_a_note_that_says_something() -> None:
    resolved = domain.resolve(open_alert(), "c-lefebvre", "  Pause de deux mois demandée à la banque. ", NOW)

    assert (resolved.status, resolved.resolution_note, resolved.resolved_by) == ("resolved", "Pause de deux mois demandée à la banque.", "c-lefebvre")
    with pytest.raises(BusinessRuleError) as refused:
        domain.resolve(open_alert(), "c-lefebvre", " \n ", NOW)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("note", "blank", 422)


def test_a_snoozed_alert_comes_back_at_8_in_paris_and_escalates_afresh() -> None:
    snoozed = domain.snooze(open_alert(), date(2026, 4, 9), now=NOW, zone=PARIS, hour=8, max_days=90)

    assert snoozed.status == "snoozed" and snoozed.escalate_at is None
    assert snoozed.snoozed_until == datetime(2026, 4, 9, 6, 0, tzinfo=UTC)  # 8:00 in Paris, summer time
    woken = domain.wake(snoozed, snoozed.snoozed_until, DELAY)
    assert (woken.status, woken.reminded_at, woken.escalate_at) == ("open", snoozed.snoozed_until, snoozed.snoozed_until + DELAY)


@pytest.mark.parametrize(("until", "rule"), [(date(2026, 4, 6), "future_date"), (date(2026, 3, 1), "future_date"), (date(2026, 9, 1), "too_far")])
def test_an_alert_is_snoozed_until_a_later_day_within_the_limit(until: date, rule: str) -> None:
    with pytest.raises(BusinessRuleError) as refused:
        domain.snooze(open_alert(), until, now=NOW, zone=PARIS, hour=8, max_days=90)

    assert (refused.value.field, refused.value.rule, refused.value.status) == ("until", rule, 422)


def test_retries_back_off_exponentially_up_to_a_ceiling() -> None:
    delays = [backoff.retry_delay(n, base_seconds=30, max_seconds=600).total_seconds() for n in range(1, 7)]

    assert delays == [30, 60, 120, 240, 480, 600]


# --- e-mails in French -----------------------------------------------------------------------------


def test_an_alert_email_says_who_which_loan_what_happened_what_to_do_and_links_to_the_case() -> None:
    letter = letters.alert_letter(open_alert(), borrower="Nadia Benali", base_url="https://alertes.secours-catholique.example/", zone=PARIS)

    assert letter.subject == "[Microcrédit] Échéance impayée — Nadia Benali (à traiter)"
    assert "Emprunteur : Nadia Benali" in letter.body
    assert f"Prêt : {LOAN}" in letter.body
    assert "Échéance n° 1 du 05/04/2026 impayée (87,91 € sur 87,91 €)" in letter.body
    assert "Que faire :\n  Appeler l'emprunteur" in letter.body
    assert f"https://alertes.secours-catholique.example/loans/{LOAN}" in letter.body
    assert "Alerte levée le 04/04/2026 à 10:30" in letter.body  # Paris time


def test_a_digest_lists_the_days_alerts() -> None:
    letter = letters.digest_letter([(open_alert(), "Nadia Benali"), (open_alert(severity="info"), None)], day=date(2026, 4, 7), base_url="https://x.example", zone=PARIS)

    assert letter.subject == "[Microcrédit] Vos alertes du 07/04/2026 (2)"
    assert "1. Échéance impayée — Nadia Benali — à traiter" in letter.body
    assert "2. Échéance impayée — demandeur — pour information" in letter.body


def test_the_message_id_derives_from_the_delivery() -> None:
    delivery = UUID("61d3f8a2-9c4b-5e7d-a1f0-3b2c4d5e6f71")

    assert letters.message_id(delivery, "Microcrédit <alertes@microcredit.example.org>") == f"<{delivery}@microcredit.example.org>"


# --- webhooks: minimal payloads, signatures ------------------------------------------------------


def test_a_webhook_payload_carries_no_name_counsellor_association_or_free_text() -> None:
    requested = new_event(
        AdjustmentRequested, source="/services/servicing", subject=str(LOAN), time=NOW,
        data=AdjustmentRequestedData(
            **OWNER, loan_id=LOAN, adjustment_id=uuid4(), terms=AdjustmentTerms(kind="pause", months=2, with_interest=False),
            reason="Mme Benali a perdu son CDI et attend ses droits France Travail", requested_by="c-lefebvre",
        ),
    )
    delivery = webhooks.delivery_id(uuid4(), requested.id)

    body = json.loads(webhooks.payload(requested, delivery))

    assert set(body) == {"delivery_id", "event_id", "event_type", "occurred_at", "data"}
    assert set(body["data"]) == {"loan_id", "adjustment_id", "terms"}
    text = json.dumps(body)
    assert "Benali" not in text and "c-lefebvre" not in text and "secours-catholique" not in text


def test_a_signature_verifies_and_a_tampered_body_or_stale_timestamp_does_not() -> None:
    body = webhooks.payload(missed(), uuid4())
    header = webhooks.signature("whsec_test", body, NOW)

    assert verify("whsec_test", header, body, now=NOW + timedelta(seconds=30))
    assert not verify("whsec_test", header, body.replace(b"8791", b"0"), now=NOW)
    assert not verify("whsec_other", header, body, now=NOW)
    assert not verify("whsec_test", header, body, now=NOW + timedelta(hours=1))
