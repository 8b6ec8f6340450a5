"""Intake's pure rules: the checklist, submission, purposes, dates, withdrawal, edits and assessment's progress."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.intake.domain import (
    Application,
    Change,
    DocumentKind,
    FileChanges,
    FileContent,
    Milestone,
    Progress,
    Status,
    Submission,
    Withdrawal,
    check_period,
    edit_file,
    missing_for_submission,
    open_file,
    record_progress,
    required_documents,
    submit_file,
    withdraw_file,
)
from shared.auth import Actor
from shared.errors import BusinessRuleError
from shared.events import ApplicationSubmitted, ApplicationUpdated, ApplicationWithdrawn
from shared.events.vocabulary import Purpose
from tests.support import intake as files

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
TODAY = NOW.date()
LEFEBVRE = Actor(subject="c-lefebvre", role="counsellor")
MARCHAND = Actor(subject="s-marchand", role="supervisor")
ASSESSMENT = Actor.service("/services/assessment")
BASE = [
    DocumentKind.IDENTITY, DocumentKind.TAX_NOTICE, DocumentKind.PROOF_OF_ADDRESS, DocumentKind.BANK_STATEMENTS,
    DocumentKind.PROOF_OF_RESOURCES, DocumentKind.PROOF_OF_CHARGES, DocumentKind.QUOTE,
]


def draft(actor: Actor = LEFEBVRE, **overrides: Any) -> Application:
    """Nadia Benali's complete file, still a draft."""
    content = FileContent(**files.complete_file(**overrides))
    return open_file(
        content, application_id=uuid4(), association_id="secours-catholique", region="hauts-de-france", actor=actor, now=NOW
    ).application


def submitted(**overrides: Any) -> Application:
    return submit_file(draft(**overrides), Submission(), LEFEBVRE, NOW).application


def documents_without(*kinds: str, **statuses: str) -> dict[str, Any]:
    """The vehicle file's documents, some left out and some with another status."""
    documents = {k: v for k, v in files.complete_file()["documents"].items() if k not in kinds}
    return {**documents, **{k: {"status": s, "on": "2026-02-20"} for k, s in statuses.items()}}


def refused(call: Any, *args: Any) -> BusinessRuleError:
    with pytest.raises(BusinessRuleError) as error:
        call(*args)
    return error.value


# --- the checklist ------------------------------------------------------------------------------


def test_a_vehicle_needs_the_driving_licence_and_an_insurance_quote() -> None:
    assert list(required_documents(Purpose.VEHICLE, over_indebted=False)) == [
        *BASE, DocumentKind.DRIVING_LICENCE, DocumentKind.INSURANCE_QUOTE
    ]


@pytest.mark.parametrize("purpose", [Purpose.HOUSING, Purpose.TRAINING, Purpose.HEALTH, Purpose.FAMILY_EVENT, Purpose.DRIVING_LICENCE])
def test_other_purposes_need_the_base_documents_only(purpose: Purpose) -> None:
    assert list(required_documents(purpose, over_indebted=False)) == BASE


def test_an_over_indebted_applicant_adds_the_banque_de_france_plan() -> None:
    assert required_documents(Purpose.HOUSING, over_indebted=True)[-1] is DocumentKind.OVER_INDEBTEDNESS_PLAN
    assert DocumentKind.OVER_INDEBTEDNESS_PLAN in draft(applicant=files.applicant(over_indebted=True)).outstanding_documents


def test_the_checklist_shows_required_documents_as_missing_until_recorded_and_extra_ones_as_not_required() -> None:
    housing = {"purpose": "housing", "description": "Dépôt de garantie d'un T2 à Arras"}
    file = draft(project=housing, documents={"identity": {"status": "verified", "on": "2026-02-20"},
                                             "driving_licence": {"status": "received", "on": "2026-02-21"}})

    lines = {item.kind: (item.required, item.status.value) for item in file.checklist}

    assert lines[DocumentKind.IDENTITY] == (True, "verified")
    assert lines[DocumentKind.TAX_NOTICE] == (True, "missing")
    assert lines[DocumentKind.DRIVING_LICENCE] == (False, "received")
    assert DocumentKind.DRIVING_LICENCE not in file.outstanding_documents


def test_an_expired_document_is_outstanding_and_a_received_one_is_not() -> None:
    file = draft(documents=documents_without(tax_notice="expired", quote="received"))

    assert file.outstanding_documents == [DocumentKind.TAX_NOTICE]
    assert not file.checklist_complete


# --- submission ---------------------------------------------------------------------------------


def test_a_complete_file_is_submitted_with_everything_it_holds() -> None:
    change = submit_file(draft(), Submission(), LEFEBVRE, NOW)

    [event] = change.events
    assert isinstance(event, ApplicationSubmitted)
    assert change.application.status is Status.SUBMITTED
    assert change.milestone is Milestone.SUBMITTED
    data = event.data
    assert (data.monthly_resources_cents, data.monthly_charges_cents) == (135_000, 82_000)
    assert data.resources == {"salary": 98_000, "family_allowances": 14_800, "rsa": 22_200}
    assert data.household is not None and data.household.children_ages == [9, 15]
    assert data.project is not None and (data.project.category, data.project.quote_cents) == ("vehicle", 420_000)
    assert (data.birth_date, data.referral_source, data.branch_id) == (date(1988, 6, 14), "ccas", "lens-centre")
    assert set(data.documents or {}) == set(files.VEHICLE_DOCUMENTS)
    assert data.incomplete_reason is None


def test_an_incomplete_file_is_refused_without_a_reason() -> None:
    error = refused(submit_file, draft(documents=documents_without("insurance_quote")), Submission(), LEFEBVRE, NOW)

    assert (error.field, error.rule, error.status) == ("documents", "checklist_incomplete", 422)
    assert "insurance_quote" in error.detail


def test_an_incomplete_file_is_submitted_with_its_reason_recorded() -> None:
    reason = "Le devis d'assurance arrive lundi ; le garage ne garde pas la voiture au-delà."

    change = submit_file(draft(documents=documents_without("insurance_quote")), Submission(incomplete_reason=reason), LEFEBVRE, NOW)

    assert change.application.incomplete_reason == reason
    assert change.events[0].data.incomplete_reason == reason
    assert change.events[0].data.documents["insurance_quote"] == "missing"
    assert change.audit.details == {"outstanding_documents": ["insurance_quote"], "incomplete_reason": reason}


def test_a_reason_given_for_a_complete_file_is_not_kept() -> None:
    change = submit_file(draft(), Submission(incomplete_reason="Par précaution"), LEFEBVRE, NOW)

    assert change.application.incomplete_reason is None


def test_a_first_appointment_draft_lacks_what_submission_needs() -> None:
    content = FileContent(**files.first_appointment())
    file = open_file(content, application_id=uuid4(), association_id="secours-catholique", region="hauts-de-france",
                     actor=LEFEBVRE, now=NOW).application

    assert missing_for_submission(file) == [
        "applicant.birth_date", "applicant.address", "household", "resources", "charges", "amount_cents",
        "duration_months", "referral_source",
    ]
    error = refused(submit_file, file, Submission(incomplete_reason="Urgent"), LEFEBVRE, NOW)
    assert (error.field, error.rule) == ("applicant.birth_date", "required_for_submission")


def test_a_file_is_submitted_only_once() -> None:
    error = refused(submit_file, submitted(), Submission(), LEFEBVRE, NOW)

    assert (error.field, error.rule, error.status) == ("status", "state", 409)


# --- purposes and amounts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "rule"),
    [
        ("consumption", "everyday_consumption_excluded"),
        ("everyday_consumption", "everyday_consumption_excluded"),
        ("debt_repayment", "debt_repayment_excluded"),
        ("repayment_of_other_debts", "debt_repayment_excluded"),
        ("holidays", "enum"),
    ],
)
def test_a_purpose_that_does_not_serve_insertion_is_refused_with_its_rule(purpose: str, rule: str) -> None:
    with pytest.raises(ValidationError) as error:
        FileChanges(project={"purpose": purpose, "description": "Télévision et remboursement Cofidis"})

    [problem] = error.value.errors()
    assert (problem["loc"], problem["type"]) == (("project", "purpose"), rule)


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_insertion_purpose_is_accepted(purpose: Purpose) -> None:
    assert FileChanges(project={"purpose": purpose.value, "description": "Projet"}).project is not None


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("amount_cents", 299_99, "greater_than_equal"),
        ("amount_cents", 8_000_01, "less_than_equal"),
        ("amount_cents", 3000.5, "int_from_float"),
        ("duration_months", 5, "greater_than_equal"),
        ("duration_months", 85, "less_than_equal"),
    ],
    ids=["299.99 €", "8,000.01 €", "euros with a fraction", "5 months", "85 months"],
)
def test_terms_outside_the_microcredit_rules_are_refused(field: str, value: Any, rule: str) -> None:
    with pytest.raises(ValidationError) as error:
        FileChanges(**{field: value})

    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [((field,), rule)]


@pytest.mark.parametrize(
    ("body", "loc", "rule"),
    [
        ({"amount_cents": "300000"}, ("amount_cents",), "int_type"),
        ({"duration_months": 36.5}, ("duration_months",), "int_from_float"),
        ({"resources": {"salary": "980.00"}}, ("resources", "salary"), "int_type"),
        ({"household": {"adults": "1"}}, ("household", "adults"), "int_type"),
        ({"household": {"adults": True}}, ("household", "adults"), "int_type"),
        ({"applicant": files.applicant(over_indebted="yes")}, ("applicant", "over_indebted"), "bool_type"),
        ({"applicant": files.applicant(over_indebted=1)}, ("applicant", "over_indebted"), "bool_type"),
        ({"applicant": files.applicant(birth_date=0)}, ("applicant", "birth_date"), "date_type"),
        ({"documents": {"quote": {"status": "received", "on": 20260220}}}, ("documents", "quote", "on"), "date_type"),
    ],
    ids=["amount as a string", "months with a fraction", "salary as a string", "adults as a string", "adults as a flag", "flag as yes",
         "flag as 1", "birth date as a number", "document date as a number"],
)
def test_numbers_flags_and_dates_are_read_only_as_json_writes_them(body: dict[str, Any], loc: tuple[str, ...], rule: str) -> None:
    with pytest.raises(ValidationError) as error:
        FileChanges.model_validate_json(json.dumps(body))

    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [(loc, rule)]


def test_a_whole_number_may_be_written_with_a_zero_fraction_as_json_schema_allows() -> None:
    changes = FileChanges.model_validate_json('{"amount_cents": 300000.0, "household": {"adults": 1.0, "children_ages": [9.0]}}')

    assert changes.amount_cents == 300_000
    assert changes.household is not None and (changes.household.adults, changes.household.children_ages) == (1, [9])


@pytest.mark.parametrize(("amount_cents", "duration_months"), [(300_00, 6), (8_000_00, 84)])
def test_the_bounds_themselves_are_accepted(amount_cents: int, duration_months: int) -> None:
    assert submitted(amount_cents=amount_cents, duration_months=duration_months).status is Status.SUBMITTED


def test_a_resource_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        FileChanges(resources={"salary": 98_000, "lottery": 5_000})

    assert error.value.errors()[0]["loc"][:2] == ("resources", "lottery")


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_date", "rule"),
    [(TODAY, "past_date"), (TODAY + timedelta(days=1), "past_date"), (date(2008, 3, 3), "adult"), (date(1905, 3, 1), "plausible_age")],
    ids=["today", "tomorrow", "18 tomorrow", "121 years old"],
)
def test_a_birth_date_must_be_an_adults_in_the_past(birth_date: date, rule: str) -> None:
    with pytest.raises(BusinessRuleError) as error:
        draft(applicant=files.applicant(birth_date=birth_date.isoformat()))

    assert (error.value.field, error.value.rule, error.value.status) == ("applicant.birth_date", rule, 422)


def test_an_applicant_of_18_today_may_borrow() -> None:
    assert draft(applicant=files.applicant(birth_date="2008-03-02")).applicant.birth_date == date(2008, 3, 2)


def test_a_document_dated_tomorrow_is_refused_and_one_without_a_date_is_dated_today() -> None:
    with pytest.raises(BusinessRuleError) as error:
        draft(documents={"quote": {"status": "received", "on": "2026-03-03"}})
    assert (error.value.field, error.value.rule) == ("documents.quote.on", "not_future")

    assert draft(documents={"quote": {"status": "received"}}).documents[DocumentKind.QUOTE].on == TODAY


def test_the_funnel_period_must_run_forwards() -> None:
    error = refused(check_period, date(2026, 3, 31), date(2026, 3, 1))

    assert (error.field, error.rule, error.status) == ("query.from", "from_after_to", 422)
    check_period(date(2026, 3, 1), date(2026, 3, 1))


# --- edits --------------------------------------------------------------------------------------


def test_an_edit_after_submission_publishes_the_whole_file_and_what_changed() -> None:
    file = submitted(documents=documents_without(bank_statements="received"))

    change = edit_file(file, FileChanges(documents={"bank_statements": {"status": "verified"}}, amount_cents=280_000), LEFEBVRE, NOW)

    assert change is not None
    [event] = change.events
    assert isinstance(event, ApplicationUpdated)
    assert event.data.changed_fields == ["amount_cents", "documents.bank_statements"]
    assert (event.data.amount_cents, event.data.applicant_name) == (280_000, "Nadia Benali")
    assert change.audit.details == {"changed_fields": ["amount_cents", "documents.bank_statements"]}


def test_an_edit_of_a_draft_publishes_nothing() -> None:
    change = edit_file(draft(), FileChanges(duration_months=48), LEFEBVRE, NOW)

    assert change is not None and change.events == () and change.application.duration_months == 48


def test_the_same_status_recorded_again_changes_nothing() -> None:
    file = submitted()

    assert edit_file(file, FileChanges(documents={"quote": {"status": "verified"}}, amount_cents=300_000), LEFEBVRE, NOW) is None


@pytest.mark.parametrize("status", [Status.WITHDRAWN, Status.APPROVED, Status.DECLINED])
def test_a_closed_file_cannot_change(status: Status) -> None:
    file = submitted().model_copy(update={"status": status})

    error = refused(edit_file, file, FileChanges(amount_cents=250_000), LEFEBVRE, NOW)
    assert (error.field, error.rule, error.status) == ("status", "file_closed", 409)


def test_only_a_supervisor_assigns_a_file_to_another_counsellor() -> None:
    error = refused(edit_file, draft(), FileChanges(counsellor_id="c-roux"), LEFEBVRE, NOW)
    assert (error.field, error.rule, error.status) == ("counsellor_id", "assign_counsellor", 403)

    change = edit_file(draft(), FileChanges(counsellor_id="c-roux"), MARCHAND, NOW)
    assert change is not None and change.application.counsellor_id == "c-roux"
    assert draft(MARCHAND).counsellor_id == "s-marchand"


def test_a_file_always_names_its_applicant() -> None:
    with pytest.raises(ValidationError) as error:
        FileChanges(applicant=None)

    assert error.value.errors()[0]["loc"] == ("applicant",)


# --- withdrawal ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.FAVOURABLE, Status.UNFAVOURABLE, Status.ROUTED])
def test_the_applicant_withdraws_at_any_point_before_the_bank_decides(status: Status) -> None:
    file = submitted().model_copy(update={"status": status})

    change = withdraw_file(file, Withdrawal(reason="A trouvé un emploi accessible en bus."), LEFEBVRE, NOW)

    assert (change.application.status, change.application.withdrawn_by, change.application.withdrawn_at) == (
        Status.WITHDRAWN, "c-lefebvre", NOW
    )
    [event] = change.events
    assert isinstance(event, ApplicationWithdrawn)
    assert (event.data.reason, event.data.withdrawn_by) == ("A trouvé un emploi accessible en bus.", "c-lefebvre")
    assert change.milestone is Milestone.WITHDRAWN


@pytest.mark.parametrize("decision", [Milestone.APPROVED, Milestone.DECLINED])
def test_a_withdrawal_after_the_bank_decided_is_refused(decision: Milestone) -> None:
    progress = reported(submitted(), decision, NOW, {})
    assert progress is not None

    error = refused(withdraw_file, progress.application, Withdrawal(reason="Ne souhaite plus emprunter."), LEFEBVRE, NOW)

    assert (error.field, error.rule, error.status) == ("status", "bank_decided", 409)


def test_a_withdrawn_draft_publishes_nothing_and_cannot_be_withdrawn_twice() -> None:
    change = withdraw_file(draft(), Withdrawal(reason="Projet abandonné."), LEFEBVRE, NOW)

    assert change.events == ()
    error = refused(withdraw_file, change.application, Withdrawal(reason="Encore"), LEFEBVRE, NOW)
    assert (error.rule, error.status) == ("state", 409)


# --- assessment's progress ----------------------------------------------------------------------


def reported(file: Application, milestone: Milestone, at: datetime, details: dict[str, Any]) -> Change | None:
    """What assessment's event reaching `milestone` at `at` does to the file."""
    return record_progress(file, Progress(file.id, milestone, file.association_id, file.region, ASSESSMENT, at, details))


def test_assessment_moves_the_file_forward_and_the_decision_is_dated() -> None:
    file = submitted()
    later = NOW + timedelta(days=12)

    for milestone, status in [(Milestone.ASSESSED_FAVOURABLE, Status.FAVOURABLE), (Milestone.ROUTED, Status.ROUTED),
                              (Milestone.APPROVED, Status.APPROVED)]:
        change = reported(file, milestone, later, {"bank_id": "credit-mutuel-nord"})
        assert change is not None and change.application.status is status
        assert change.audit.action == milestone.value and change.audit.actor == ASSESSMENT
        file = change.application

    assert file.decided_at == later


def test_a_late_event_never_moves_the_file_back_nor_reopens_a_closed_one() -> None:
    routed = submitted().model_copy(update={"status": Status.ROUTED})
    withdrawn = submitted().model_copy(update={"status": Status.WITHDRAWN})

    assert reported(routed, Milestone.ASSESSED_FAVOURABLE, NOW, {}) is None
    assert reported(routed, Milestone.ROUTED, NOW, {}) is None
    assert reported(withdrawn, Milestone.APPROVED, NOW, {}) is None


def test_a_file_returned_incomplete_can_be_assessed_again() -> None:
    returned = reported(submitted(), Milestone.RETURNED_INCOMPLETE, NOW, {})
    assert returned is not None

    again = reported(returned.application, Milestone.ASSESSED_FAVOURABLE, NOW, {})

    assert again is not None and again.application.status is Status.FAVOURABLE
