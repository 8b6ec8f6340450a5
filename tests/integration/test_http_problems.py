"""Every endpoint answers bad input with a 4xx problem document naming the field and the rule, never a 5xx."""

from __future__ import annotations

import json
from urllib.parse import quote
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider

from services.servicing.domain import loan_id_for
from shared.auth import Principal
from tests.integration.conftest import (
    DEFINITIONS,
    TODAY,
    UNREACHABLE_KAFKA,
    RunningService,
    ServiceStarter,
    application_body,
    application_submitted,
    bank_approval,
    favourable_outcome,
    loan_approved,
)
from tests.support import tokens
from tests.support.intake import applicant as intake_applicant
from tests.support.intake import complete_file, first_appointment

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"
MALFORMED_ID = "dossier-42"
MALFORMED_JSON = b'{"amount_cents": 300000, "purpose": '


@dataclass(frozen=True)
class BadRequest:
    """One bad request to one endpoint, and the problem it must get back."""

    service: str
    method: str
    route: str
    why: str
    at: str | None = None  # the path parameter: a prepared object (see `prepare`) or a literal
    body: Any = None
    raw: bytes | None = None
    query: dict[str, Any] | None = None
    status: int = 422
    field: str | None = None
    rule: str | None = None
    caller: Principal | None = None  # who sends it; by default the role the endpoint is for (see `caller_for`)

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.route}: {self.why}"

    @property
    def kind(self) -> str:
        """What this case exercises, for the coverage check."""
        if self.raw is not None:
            return "malformed JSON"
        if self.status == 404:
            return "unknown id"
        if self.field and self.field.startswith("path."):
            return "malformed id"
        return "bad field"


def post(service: str, route: str, why: str, body: Any = None, **kw: Any) -> BadRequest:
    """A bad POST."""
    return BadRequest(service, "POST", route, why, body=body, **kw)


def get(service: str, route: str, why: str, **kw: Any) -> BadRequest:
    """A bad GET."""
    return BadRequest(service, "GET", route, why, **kw)


def unknown_id(service: str, method: str, route: str, body: Any = None) -> BadRequest:
    """A well-formed id nobody knows."""
    return BadRequest(service, method, route, "unknown id", at="unknown", body=body, status=404)


def malformed_id(service: str, method: str, route: str, param: str, body: Any = None) -> BadRequest:
    """An id that is not a UUID."""
    return BadRequest(service, method, route, "malformed id", at=MALFORMED_ID, body=body, field=f"path.{param}", rule="uuid_parsing")


def malformed_json(service: str, route: str, at: str | None = None) -> BadRequest:
    """A body cut in the middle: the problem blames the body, not a character offset."""
    return BadRequest(service, "POST", route, "malformed JSON", at=at, raw=MALFORMED_JSON, field="body", rule="json_invalid")


APPLICATIONS = "/applications"
APPLICATION = "/applications/{application_id}"
SUBMISSION = "/applications/{application_id}/submission"
WITHDRAWAL = "/applications/{application_id}/withdrawal"
AUDIT = "/applications/{application_id}/audit"
FUNNEL = "/funnel"
ASSESSMENTS = "/assessments"
ASSESSMENT = "/assessments/{application_id}"
ASSESSMENT_AUDIT = "/assessments/{application_id}/audit"
FICP = "/assessments/{application_id}/ficp"
OUTCOME = "/assessments/{application_id}/outcome"
BANK_FILES = "/bank/files"
BANK_FILE = "/bank/files/{application_id}"
BANK_DECISION = "/bank/files/{application_id}/decision"
TIMERS = "/operations/timers"
LOANS = "/loans"
LOAN = "/loans/{loan_id}"
DISBURSEMENT = "/loans/{loan_id}/disbursement"
PAYMENTS = "/loans/{loan_id}/payments"
CLOSE_OF_BUSINESS = "/close-of-business"
ALERTS = "/alerts"
ALERT = "/alerts/{alert_id}"

DISBURSED_TODAY = {"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def intake_project(**overrides: Any) -> dict[str, Any]:
    """Nadia Benali's car project, with some fields changed."""
    return {**complete_file()["project"], **overrides}


def patch(route: str, why: str, body: Any = None, **kw: Any) -> BadRequest:
    """A bad PATCH to an intake file."""
    return BadRequest("intake", "PATCH", route, why, body=body, **kw)
FIRST_PAYMENT = {"bank_reference": "VIR-2026-04-05-0001", "amount_cents": 8_791, "received_on": TODAY.isoformat()}
FICP_CLEAR = {"consulted_on": TODAY.isoformat(), "result": "not_registered", "reference": "FICP-2026-03-02-0417"}
UNFAVOURABLE = {"outcome": "unfavourable", "opinion": "Reste à vivre trop faible après l'échéance.",
                "reason_codes": ["insufficient_remaining"], "orientation": "budget_coaching"}
APPROVAL = {k: v for k, v in bank_approval().items() if k != "bank_id"}  # the bank is the caller's

CASES: list[BadRequest] = [
    # --- intake --------------------------------------------------------------------------------------
    post("intake", APPLICATIONS, "amount 299.99 €", complete_file(amount_cents=29_999), field="amount_cents", rule="greater_than_equal"),
    post("intake", APPLICATIONS, "amount 8,000.01 €", complete_file(amount_cents=800_001), field="amount_cents", rule="less_than_equal"),
    post("intake", APPLICATIONS, "amount in euros with a fraction", complete_file(amount_cents=3000.5), field="amount_cents", rule="int_from_float"),
    post("intake", APPLICATIONS, "amount in words", complete_file(amount_cents="trois mille euros"), field="amount_cents", rule="int_parsing"),
    post("intake", APPLICATIONS, "duration 5 months", complete_file(duration_months=5), field="duration_months", rule="greater_than_equal"),
    post("intake", APPLICATIONS, "duration 85 months", complete_file(duration_months=85), field="duration_months", rule="less_than_equal"),
    post("intake", APPLICATIONS, "holidays are not an insertion purpose", complete_file(project=intake_project(purpose="holidays")), field="project.purpose", rule="enum"),
    post("intake", APPLICATIONS, "everyday consumption", complete_file(project=intake_project(purpose="consumption")), field="project.purpose", rule="everyday_consumption_excluded"),
    post("intake", APPLICATIONS, "repaying other debts", complete_file(project=intake_project(purpose="debt_repayment")), field="project.purpose", rule="debt_repayment_excluded"),
    post("intake", APPLICATIONS, "quote in euros with a fraction", complete_file(project=intake_project(quote_cents=4200.5)), field="project.quote_cents", rule="int_from_float"),
    post("intake", APPLICATIONS, "negative salary", complete_file(resources={"salary": -1}), field="resources.salary", rule="greater_than_equal"),
    post("intake", APPLICATIONS, "a resource outside the vocabulary", complete_file(resources={"lottery": 5_000}), field="resources.lottery.[key]", rule="enum"),
    post("intake", APPLICATIONS, "a charge outside the vocabulary", complete_file(charges={"holidays": 5_000}), field="charges.holidays.[key]", rule="enum"),
    post("intake", APPLICATIONS, "no adult in the household", complete_file(household={"adults": 0, "children_ages": []}), field="household.adults", rule="greater_than_equal"),
    post("intake", APPLICATIONS, "no applicant", {k: v for k, v in complete_file().items() if k != "applicant"}, field="applicant", rule="missing"),
    post("intake", APPLICATIONS, "NUL character in the last name", complete_file(applicant=intake_applicant(last_name="Ben\u0000ali")), field="applicant.last_name", rule="string_pattern_mismatch"),
    post("intake", APPLICATIONS, "empty first name", complete_file(applicant=intake_applicant(first_name="")), field="applicant.first_name", rule="string_too_short"),
    post("intake", APPLICATIONS, "postcode of four digits", complete_file(applicant=intake_applicant(address={"street": "12 rue Émile Zola", "postcode": "6230", "city": "Lens"})), field="applicant.address.postcode", rule="string_pattern_mismatch"),
    post("intake", APPLICATIONS, "e-mail without a domain", complete_file(applicant=intake_applicant(contact={"email": "nadia.benali@"})), field="applicant.contact.email", rule="string_pattern_mismatch"),
    post("intake", APPLICATIONS, "born on 30 February", complete_file(applicant=intake_applicant(birth_date="1988-02-30")), field="applicant.birth_date", rule="date_from_datetime_parsing"),
    post("intake", APPLICATIONS, "born in the future", complete_file(applicant=intake_applicant(birth_date="2030-01-01")), field="applicant.birth_date", rule="past_date"),
    post("intake", APPLICATIONS, "a minor", complete_file(applicant=intake_applicant(birth_date="2010-05-01")), field="applicant.birth_date", rule="adult"),
    post("intake", APPLICATIONS, "a document received tomorrow", complete_file(documents={"quote": {"status": "received", "on": (TODAY + timedelta(days=1)).isoformat()}}), field="documents.quote.on", rule="not_future"),
    post("intake", APPLICATIONS, "a document status outside the list", complete_file(documents={"quote": {"status": "lost"}}), field="documents.quote.status", rule="enum"),
    post("intake", APPLICATIONS, "the association named in the body", {**complete_file(), "association_id": "restos-du-coeur"}, field="association_id", rule="extra_forbidden"),
    post("intake", APPLICATIONS, "unknown field", complete_file(iban="FR7630006000011234567890189"), field="iban", rule="extra_forbidden"),
    post("intake", APPLICATIONS, "a list instead of an object", [complete_file()], field="body", rule="model_attributes_type"),
    post("intake", APPLICATIONS, "a counsellor filing for a colleague", complete_file(counsellor_id="c-roux"), status=403, field="counsellor_id", rule="assign_counsellor"),
    post("intake", APPLICATIONS, "a bank opening a file", complete_file(), caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    malformed_json("intake", APPLICATIONS),
    get("intake", APPLICATIONS, "status outside the list", query={"status": "lost"}, field="query.status", rule="enum"),
    get("intake", APPLICATIONS, "page size 0", query={"limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("intake", APPLICATIONS, "negative offset", query={"offset": -1}, field="query.offset", rule="greater_than_equal"),
    get("intake", APPLICATIONS, "ops reading files", caller=tokens.ops(), status=403, field="role", rule="forbidden_role"),
    malformed_id("intake", "GET", APPLICATION, "application_id"),
    unknown_id("intake", "GET", APPLICATION),
    get("intake", APPLICATION, "another association's file", at="draft_file", caller=tokens.counsellor(association="restos-du-coeur"), status=404),
    patch(APPLICATION, "duration 85 months", {"duration_months": 85}, at="draft_file", field="duration_months", rule="less_than_equal"),
    patch(APPLICATION, "rent in euros with a fraction", {"charges": {"rent": 520.5}}, at="draft_file", field="charges.rent", rule="int_from_float"),
    patch(APPLICATION, "the applicant removed", {"applicant": None}, at="draft_file", field="applicant", rule="value_error"),
    patch(APPLICATION, "a submitted file losing its household", {"household": None}, at="submitted_file", field="household", rule="required_for_submission"),
    patch(APPLICATION, "a file the bank approved", {"amount_cents": 250_000}, at="approved_file", status=409, field="status", rule="file_closed"),
    patch(APPLICATION, "malformed JSON", at="draft_file", raw=MALFORMED_JSON, field="body", rule="json_invalid"),
    malformed_id("intake", "PATCH", APPLICATION, "application_id", body={"duration_months": 48}),
    unknown_id("intake", "PATCH", APPLICATION, body={"duration_months": 48}),
    post("intake", SUBMISSION, "documents missing and no reason", {}, at="incomplete_draft", field="documents", rule="checklist_incomplete"),
    post("intake", SUBMISSION, "an empty reason", {"incomplete_reason": ""}, at="incomplete_draft", field="incomplete_reason", rule="string_too_short"),
    post("intake", SUBMISSION, "a draft without its budget", {"incomplete_reason": "Urgent"}, at="bare_draft", field="applicant.birth_date", rule="required_for_submission"),
    post("intake", SUBMISSION, "a file already submitted", {}, at="submitted_file", status=409, field="status", rule="state"),
    malformed_json("intake", SUBMISSION, at="draft_file"),
    malformed_id("intake", "POST", SUBMISSION, "application_id", body={}),
    unknown_id("intake", "POST", SUBMISSION, body={}),
    post("intake", WITHDRAWAL, "no reason", {}, at="submitted_file", field="reason", rule="missing"),
    post("intake", WITHDRAWAL, "NUL character in the reason", {"reason": "Prêt\u0000familial"}, at="submitted_file", field="reason", rule="string_pattern_mismatch"),
    post("intake", WITHDRAWAL, "after the bank approved", {"reason": "Ne souhaite plus emprunter."}, at="approved_file", status=409, field="status", rule="bank_decided"),
    malformed_json("intake", WITHDRAWAL, at="submitted_file"),
    malformed_id("intake", "POST", WITHDRAWAL, "application_id", body={"reason": "Prêt familial."}),
    unknown_id("intake", "POST", WITHDRAWAL, body={"reason": "Prêt familial."}),
    malformed_id("intake", "GET", AUDIT, "application_id"),
    unknown_id("intake", "GET", AUDIT),
    get("intake", FUNNEL, "a period that ends before it starts", query={"from": "2026-03-31", "to": "2026-03-01"}, field="query.from", rule="from_after_to"),
    get("intake", FUNNEL, "no period", query={}, field="query.from", rule="missing"),
    get("intake", FUNNEL, "a month in words", query={**MARCH, "to": "fin mars"}, field="query.to", rule="date_from_datetime_parsing"),
    get("intake", FUNNEL, "a region with spaces", query={**MARCH, "region": "Hauts de France"}, field="query.region", rule="string_pattern_mismatch"),
    get("intake", FUNNEL, "another association's funnel", query={**MARCH, "association_id": "restos-du-coeur"}, status=403, field="query.association_id", rule="other_association"),
    get("intake", FUNNEL, "a bank reading the funnel", query=MARCH, caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    # --- assessment ----------------------------------------------------------------------------------
    get("assessment", ASSESSMENTS, "status outside the list", query={"status": "lost"}, field="query.status", rule="enum"),
    get("assessment", ASSESSMENTS, "page size 0", query={"limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("assessment", ASSESSMENTS, "a bank reading the review queue", caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    malformed_id("assessment", "GET", ASSESSMENT, "application_id"),
    unknown_id("assessment", "GET", ASSESSMENT),
    get("assessment", ASSESSMENT, "another association's file", at="pending_file", caller=tokens.counsellor(association="restos-du-coeur"), status=404),
    get("assessment", ASSESSMENT, "ops reading a file", at="pending_file", caller=tokens.ops(), status=403, field="role", rule="forbidden_role"),
    malformed_id("assessment", "GET", ASSESSMENT_AUDIT, "application_id"),
    unknown_id("assessment", "GET", ASSESSMENT_AUDIT),
    post("assessment", FICP, "a result outside the list", {**FICP_CLEAR, "result": "peut-être"}, at="pending_file", field="result", rule="enum"),
    post("assessment", FICP, "consulted tomorrow", {**FICP_CLEAR, "consulted_on": (TODAY + timedelta(days=1)).isoformat()}, at="pending_file", field="consulted_on", rule="not_future"),
    post("assessment", FICP, "a consultation date in words", {**FICP_CLEAR, "consulted_on": "hier"}, at="pending_file", field="consulted_on", rule="date_from_datetime_parsing"),
    post("assessment", FICP, "no result", {"consulted_on": TODAY.isoformat()}, at="pending_file", field="result", rule="missing"),
    post("assessment", FICP, "a file already routed", FICP_CLEAR, at="favourable_file", status=409, field="consulted_on", rule="state"),
    malformed_json("assessment", FICP, at="pending_file"),
    malformed_id("assessment", "POST", FICP, "application_id", body=FICP_CLEAR),
    unknown_id("assessment", "POST", FICP, body=FICP_CLEAR),
    post("assessment", OUTCOME, "an outcome that is neither", {"outcome": "maybe", "opinion": "À revoir"}, at="pending_file", field="outcome", rule="literal_error"),
    post("assessment", OUTCOME, "favourable without a bank", {k: v for k, v in favourable_outcome().items() if k != "bank_id"}, at="pending_file", field="bank_id", rule="value_error"),
    post("assessment", OUTCOME, "NUL character in the opinion", favourable_outcome(opinion="Avis\u0000favorable"), at="pending_file", field="opinion", rule="string_pattern_mismatch"),
    post("assessment", OUTCOME, "no opinion", {"outcome": "unfavourable"}, at="pending_file", field="opinion", rule="missing"),
    post("assessment", OUTCOME, "proposed 299.99 €", favourable_outcome(amount_cents=29_999), at="pending_file", field="amount_cents", rule="greater_than_equal"),
    post("assessment", OUTCOME, "proposed 85 months", favourable_outcome(duration_months=85), at="pending_file", field="duration_months", rule="less_than_equal"),
    post("assessment", OUTCOME, "rate above 20 %", favourable_outcome(annual_rate="0.21"), at="pending_file", field="annual_rate", rule="less_than_equal"),
    post("assessment", OUTCOME, "rate in words", favourable_outcome(annual_rate="trois pour cent"), at="pending_file", field="annual_rate", rule="decimal_parsing"),
    post("assessment", OUTCOME, "unfavourable without an orientation", {**UNFAVOURABLE, "orientation": None}, at="pending_file", field="orientation", rule="value_error"),
    post("assessment", OUTCOME, "a reason code outside the list", {**UNFAVOURABLE, "reason_codes": ["bad_luck"]}, at="pending_file", field="reason_codes.0", rule="enum"),
    post("assessment", OUTCOME, "incomplete without the missing items", {"outcome": "incomplete", "opinion": "Pièces manquantes."}, at="pending_file", field="missing_items", rule="value_error"),
    post("assessment", OUTCOME, "routing before the FICP is consulted", favourable_outcome(), at="pending_file", status=409, field="ficp", rule="ficp_required"),
    post("assessment", OUTCOME, "a bank that is not a partner of the association", favourable_outcome(bank_id="bnp-paribas-lille"), at="consulted_file", field="bank_id", rule="partner_bank"),
    post("assessment", OUTCOME, "a failed check not overridden", favourable_outcome(amount_cents=800_000), at="consulted_file", field="checks.remaining_per_unit", rule="check_failed"),
    post("assessment", OUTCOME, "overriding the usury cap", favourable_outcome(amount_cents=600_001, annual_rate="0.09", overrides={"usury_cap": "Le client accepte."}), at="consulted_file", field="overrides.usury_cap", rule="not_overridable"),
    post("assessment", OUTCOME, "an override without a justification", favourable_outcome(overrides={"remaining_per_unit": ""}), at="consulted_file", field="overrides.remaining_per_unit", rule="string_too_short"),
    post("assessment", OUTCOME, "overriding a check outside the list", favourable_outcome(overrides={"credit_score": "Bon profil."}), at="consulted_file", field="overrides.credit_score.[key]", rule="enum"),
    post("assessment", OUTCOME, "file already assessed", favourable_outcome(), at="favourable_file", status=409, field="outcome", rule="state"),
    malformed_json("assessment", OUTCOME, at="pending_file"),
    malformed_id("assessment", "POST", OUTCOME, "application_id", body=favourable_outcome()),
    unknown_id("assessment", "POST", OUTCOME, body=favourable_outcome()),
    get("assessment", BANK_FILES, "status outside the list", query={"status": "lost"}, field="query.status", rule="enum"),
    get("assessment", BANK_FILES, "page size 501", query={"limit": 501}, field="query.limit", rule="less_than_equal"),
    get("assessment", BANK_FILES, "a counsellor reading a bank's files", caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    malformed_id("assessment", "GET", BANK_FILE, "application_id"),
    unknown_id("assessment", "GET", BANK_FILE),
    get("assessment", BANK_FILE, "another bank's file", at="favourable_file", caller=tokens.bank("la-banque-postale"), status=404),
    post("assessment", BANK_DECISION, "first due date today", {**APPROVAL, "first_due_date": TODAY.isoformat()}, at="favourable_file", field="first_due_date", rule="future_date"),
    post("assessment", BANK_DECISION, "first due date not a date", {**APPROVAL, "first_due_date": "31/04/2026"}, at="favourable_file", field="first_due_date", rule="date_from_datetime_parsing"),
    post("assessment", BANK_DECISION, "a decision that is neither", {**APPROVAL, "decision": "perhaps"}, at="favourable_file", field="decision", rule="literal_error"),
    post("assessment", BANK_DECISION, "approval without a first due date", {k: v for k, v in APPROVAL.items() if k != "first_due_date"}, at="favourable_file", field="first_due_date", rule="value_error"),
    post("assessment", BANK_DECISION, "decline without a reason", {"decision": "decline"}, at="favourable_file", field="reason", rule="value_error"),
    post("assessment", BANK_DECISION, "the bank named in the body", {**APPROVAL, "bank_id": "credit-mutuel-nord"}, at="favourable_file", field="bank_id", rule="extra_forbidden"),
    post("assessment", BANK_DECISION, "approved 8,000.01 €", {**APPROVAL, "amount_cents": 800_001}, at="favourable_file", field="amount_cents", rule="less_than_equal"),
    post("assessment", BANK_DECISION, "usurious terms", {**APPROVAL, "amount_cents": 800_000, "annual_rate": "0.2"}, at="favourable_file", field="annual_rate", rule="usury_cap"),
    post("assessment", BANK_DECISION, "a file not routed to the bank", APPROVAL, at="pending_file", status=404),
    post("assessment", BANK_DECISION, "another bank's file", APPROVAL, at="favourable_file", caller=tokens.bank("la-banque-postale"), status=404),
    post("assessment", BANK_DECISION, "a file already decided", APPROVAL, at="decided_file", status=409, field="decision", rule="already_decided"),
    post("assessment", BANK_DECISION, "a counsellor deciding for the bank", APPROVAL, at="favourable_file", caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    malformed_json("assessment", BANK_DECISION, at="favourable_file"),
    malformed_id("assessment", "POST", BANK_DECISION, "application_id", body=APPROVAL),
    unknown_id("assessment", "POST", BANK_DECISION, body=APPROVAL),
    post("assessment", TIMERS, "a timer outside the list", {"timers": ["nightly_batch"]}, field="timers.0", rule="enum"),
    post("assessment", TIMERS, "no timer", {"timers": []}, field="timers", rule="too_short"),
    post("assessment", TIMERS, "unknown field", {"dry_run": True}, field="dry_run", rule="extra_forbidden"),
    post("assessment", TIMERS, "a counsellor running the timers", {}, caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    malformed_json("assessment", TIMERS),
    # --- servicing -----------------------------------------------------------------------------------
    get("servicing", LOANS, "no application id", query={}, field="query.application_id", rule="missing"),
    get("servicing", LOANS, "application id not a UUID", query={"application_id": MALFORMED_ID}, field="query.application_id", rule="uuid_parsing"),
    malformed_id("servicing", "GET", LOAN, "loan_id"),
    unknown_id("servicing", "GET", LOAN),
    post("servicing", DISBURSEMENT, "disbursed tomorrow", {**DISBURSED_TODAY, "disbursed_on": (TODAY + timedelta(days=1)).isoformat()}, at="pending_loan", field="disbursed_on", rule="not_future"),
    post("servicing", DISBURSEMENT, "30 February", {**DISBURSED_TODAY, "disbursed_on": "2026-02-30"}, at="pending_loan", field="disbursed_on", rule="date_from_datetime_parsing"),
    post("servicing", DISBURSEMENT, "NUL character in the payee", {**DISBURSED_TODAY, "payee": "Garage\u0000Dupont"}, at="pending_loan", field="payee", rule="string_pattern_mismatch"),
    post("servicing", DISBURSEMENT, "no payee", {"disbursed_on": TODAY.isoformat()}, at="pending_loan", field="payee", rule="missing"),
    post("servicing", DISBURSEMENT, "loan already active", DISBURSED_TODAY, at="active_loan", status=409, field="disbursed_on", rule="state"),
    malformed_json("servicing", DISBURSEMENT, at="pending_loan"),
    malformed_id("servicing", "POST", DISBURSEMENT, "loan_id", body=DISBURSED_TODAY),
    unknown_id("servicing", "POST", DISBURSEMENT, body=DISBURSED_TODAY),
    post("servicing", PAYMENTS, "more than what is owed", {**FIRST_PAYMENT, "amount_cents": 400_000}, at="active_loan", field="amount_cents", rule="not_more_than_owed"),
    post("servicing", PAYMENTS, "zero payment", {**FIRST_PAYMENT, "amount_cents": 0}, at="active_loan", field="amount_cents", rule="greater_than"),
    post("servicing", PAYMENTS, "bank reference with spaces", {**FIRST_PAYMENT, "bank_reference": "VIR 0001"}, at="active_loan", field="bank_reference", rule="string_pattern_mismatch"),
    post("servicing", PAYMENTS, "NUL character in the bank reference", {**FIRST_PAYMENT, "bank_reference": "VIR\u00000001"}, at="active_loan", field="bank_reference", rule="string_pattern_mismatch"),
    post("servicing", PAYMENTS, "no date received", {k: v for k, v in FIRST_PAYMENT.items() if k != "received_on"}, at="active_loan", field="received_on", rule="missing"),
    post("servicing", PAYMENTS, "loan not disbursed yet", FIRST_PAYMENT, at="pending_loan", status=409, field="amount_cents", rule="state"),
    malformed_json("servicing", PAYMENTS, at="active_loan"),
    malformed_id("servicing", "POST", PAYMENTS, "loan_id", body=FIRST_PAYMENT),
    unknown_id("servicing", "POST", PAYMENTS, body=FIRST_PAYMENT),
    post("servicing", CLOSE_OF_BUSINESS, "no business date", {}, field="business_date", rule="missing"),
    post("servicing", CLOSE_OF_BUSINESS, "business date in words", {"business_date": "hier"}, field="business_date", rule="date_from_datetime_parsing"),
    post("servicing", CLOSE_OF_BUSINESS, "unknown field", {"business_date": TODAY.isoformat(), "dry_run": True}, field="dry_run", rule="extra_forbidden"),
    malformed_json("servicing", CLOSE_OF_BUSINESS),
    post("servicing", CLOSE_OF_BUSINESS, "a counsellor cannot run the close of business", {"business_date": TODAY.isoformat()}, caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    post("servicing", PAYMENTS, "a payment for another bank's loan", FIRST_PAYMENT, at="active_loan", caller=tokens.bank("la-banque-postale"), status=404),
    get("servicing", LOAN, "another association's loan", at="active_loan", caller=tokens.counsellor(association="restos-du-coeur"), status=404),
    # --- notifications -------------------------------------------------------------------------------
    get("notifications", ALERTS, "a bank cannot read alerts", query={}, caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    get("notifications", ALERTS, "counsellor id too long", query={"counsellor_id": "c-" + "x" * 63}, field="query.counsellor_id", rule="string_too_long"),
    get("notifications", ALERTS, "NUL character in the counsellor id", query={"counsellor_id": "c-\u0000"}, field="query.counsellor_id", rule="string_pattern_mismatch"),
    get("notifications", ALERTS, "loan id not a UUID", query={"counsellor_id": "c-lefebvre", "loan_id": MALFORMED_ID}, field="query.loan_id", rule="uuid_parsing"),
    get("notifications", ALERTS, "page size 0", query={"counsellor_id": "c-lefebvre", "limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("notifications", ALERTS, "page size 501", query={"counsellor_id": "c-lefebvre", "limit": 501}, field="query.limit", rule="less_than_equal"),
    get("notifications", ALERTS, "negative offset", query={"counsellor_id": "c-lefebvre", "offset": -1}, field="query.offset", rule="greater_than_equal"),
    malformed_id("notifications", "GET", ALERT, "alert_id"),
    unknown_id("notifications", "GET", ALERT),
]


async def prepare_intake(service: RunningService) -> dict[str, str]:
    """c-lefebvre's files: complete, incomplete and bare drafts, a submitted file and one the bank approved."""
    owner = tokens.bearer(tokens.counsellor())
    bodies = {"draft_file": complete_file(), "incomplete_draft": complete_file(documents={}), "bare_draft": first_appointment(),
              "submitted_file": complete_file(), "approved_file": complete_file()}
    ids = {}
    for name, body in bodies.items():
        opened = await service.http.post("/applications", json=body, headers=owner)
        assert opened.status_code == 201, opened.text
        ids[name] = opened.json()["id"]
    for name in ("submitted_file", "approved_file"):
        submitted = await service.http.post(f"/applications/{ids[name]}/submission", json={}, headers=owner)
        assert submitted.status_code == 200, submitted.text
    await service.deliver(loan_approved(UUID(ids["approved_file"])))
    return ids


async def prepare_assessment(service: RunningService) -> dict[str, str]:
    """c-lefebvre's files: pending review, FICP consulted, routed to Crédit Mutuel Nord, and one the bank approved."""
    owner, names = tokens.bearer(tokens.counsellor()), ("pending_file", "consulted_file", "favourable_file", "decided_file")
    events = {name: application_submitted(applicant_name=applicant) for name, applicant in
              zip(names, ("Nadia Benali", "Fatou Diallo", "Julien Moreau", "Sandrine Petit"))}
    for event in events.values():
        await service.deliver(event)
    ids = {name: str(event.data.application_id) for name, event in events.items()}
    for name in names[1:]:
        consulted = await service.http.post(f"/assessments/{ids[name]}/ficp", json=FICP_CLEAR, headers=owner)
        assert consulted.status_code == 200, consulted.text
    for name in names[2:]:
        routed = await service.http.post(f"/assessments/{ids[name]}/outcome", json=favourable_outcome(), headers=owner)
        assert routed.status_code == 200, routed.text
    decided = await service.http.post(f"/bank/files/{ids['decided_file']}/decision", json=APPROVAL, headers=tokens.bearer(tokens.bank()))
    assert decided.status_code == 200, decided.text
    return ids


async def prepare(service: RunningService) -> dict[str, str]:
    """Put the service in a state where every business rule can be broken; return the objects' ids."""
    ids = {"unknown": str(uuid4())}
    if service.name == "intake":
        ids.update(await prepare_intake(service))
    elif service.name == "assessment":
        ids.update(await prepare_assessment(service))
    elif service.name == "servicing":
        pending, active = loan_approved(), loan_approved()
        for event in (pending, active):
            await service.deliver(event)
        ids["pending_loan"] = str(loan_id_for(pending.data.application_id))
        ids["active_loan"] = str(loan_id_for(active.data.application_id))
        disbursed = await service.http.post(
            f"/loans/{ids['active_loan']}/disbursement", json=DISBURSED_TODAY, headers=tokens.bearer(tokens.bank())
        )
        assert disbursed.status_code == 200, disbursed.text
    return ids


def _url(route: str, at: str | None, ids: dict[str, str]) -> str:
    if at is None:
        return route
    start, end = route.index("{"), route.index("}")
    return route[:start] + ids.get(at, at) + route[end + 1 :]


# Endpoints that are not for counsellors: the role a well-behaved client of each would have.
CALLERS: dict[tuple[str, str], Principal] = {
    ("servicing", "/loans/{loan_id}/disbursement"): tokens.bank(),
    ("servicing", "/loans/{loan_id}/payments"): tokens.bank(),
    ("servicing", "/close-of-business"): tokens.ops(),
    ("assessment", BANK_FILES): tokens.bank(),
    ("assessment", BANK_FILE): tokens.bank(),
    ("assessment", BANK_DECISION): tokens.bank(),
    ("assessment", TIMERS): tokens.ops(),
}


def caller_for(service: str, route: str) -> Principal:
    """Who calls `route` of `service` in these tests: a counsellor unless the endpoint is for another role."""
    return CALLERS.get((service, route), tokens.counsellor())


async def send(service: RunningService, case: BadRequest, ids: dict[str, str]) -> httpx.Response:
    """Send the case's request as a client would, with the bearer token of the endpoint's role."""
    url = _url(case.route, case.at, ids)
    auth = tokens.bearer(case.caller or caller_for(case.service, case.route))
    if case.raw is not None:
        return await service.http.request(
            case.method, url, content=case.raw, headers={"content-type": "application/json", **auth}
        )
    return await service.http.request(case.method, url, json=case.body, params=case.query, headers=auth)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_bad_request_gets_a_problem_naming_the_field_and_the_rule(case: BadRequest, start_service: ServiceStarter) -> None:
    service = await start_service(case.service)
    response = await send(service, case, await prepare(service))

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == case.status
    assert problem["title"] and problem["detail"]
    errors = [(e["field"], e["rule"]) for e in problem.get("errors", [])]
    if case.field:
        assert (case.field, case.rule) in errors, problem
    elif case.rule:
        assert case.rule in {rule for _, rule in errors}, problem
    else:
        assert problem["title"].endswith("not found")


@pytest.mark.parametrize("name", DEFINITIONS)
def test_every_endpoint_taking_input_has_bad_input_cases(name: str) -> None:
    definition = DEFINITIONS[name]
    settings_ = definition.settings_cls(
        database_url="postgresql://unused@127.0.0.1:1/none", kafka_bootstrap_servers=UNREACHABLE_KAFKA, jwt_secret=tokens.TEST_JWT_SECRET
    )
    app = definition.create_app(settings_, tracer_provider=TracerProvider())
    operations = {
        (method.upper(), path): operation for path, item in app.openapi()["paths"].items() for method, operation in item.items()
    }
    cases = [c for c in CASES if c.service == name]
    assert {(c.method, c.route) for c in cases} <= set(operations), "a case targets an endpoint that does not exist"

    missing = []
    for (method, path), operation in operations.items():
        kinds = {c.kind for c in cases if (c.method, c.route) == (method, path)}
        where = {p["in"] for p in operation.get("parameters", [])}
        needed = set()
        if "requestBody" in operation:
            needed |= {"malformed JSON", "bad field"}
        if "path" in where:
            needed |= {"malformed id", "unknown id"}
        if "query" in where:
            needed.add("bad field")
        missing += [f"{method} {path}: {kind}" for kind in sorted(needed - kinds)]
    assert not missing, f"endpoints without a bad-input case: {missing}"


# --- whatever the body, never a server error ------------------------------------------------------

POST_ENDPOINTS = [
    (name, route.path)
    for name, definition in DEFINITIONS.items()
    for route in definition.router.routes
    if "POST" in getattr(route, "methods", ())
]
# Every character, NUL and lone surrogates included: free text refuses control characters with a 422.
CHARACTERS = st.characters()
TEXT = st.text(CHARACTERS, max_size=30)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
# Realistic values by field name, so schema-shaped bodies often pass validation and reach the business rules.
INTAKE_REALISTIC = {
    **complete_file(),
    "incomplete_reason": "L'assureur envoie son devis lundi.",
    "reason": "A trouvé un prêt familial pour la voiture.",
}
REALISTIC = {**INTAKE_REALISTIC, **application_body(), **favourable_outcome(), **bank_approval(), **DISBURSED_TODAY, **FIRST_PAYMENT, "business_date": TODAY.isoformat()}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _shaped(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one JSON-schema variant, a little beyond its bounds too."""
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "null":
        return st.none()
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(2**31)))
        high = schema.get("maximum", 2**31)
        return st.integers(int(low) - 2, int(high) + 2)
    if kind == "number":
        return st.decimals(schema.get("minimum", 0), schema.get("maximum", 1) + 0.05, places=4).map(str)
    if schema.get("format") == "date":
        return st.dates().map(lambda d: d.isoformat()) | st.dates(TODAY - timedelta(days=400), TODAY + timedelta(days=400)).map(lambda d: d.isoformat())
    max_size = min(schema.get("maxLength", 40), 40)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True, alphabet=CHARACTERS).filter(lambda s: len(s) <= max_size)
    return st.text(CHARACTERS, min_size=schema.get("minLength", 0), max_size=max_size)


def _plausible(name: str, schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    variants = [_shaped(_resolve(v, spec)) for v in schema.get("anyOf", [schema])]
    realistic = [st.just(REALISTIC[name])] if name in REALISTIC else []
    return st.one_of(*realistic, *variants)


def request_bodies(route: str, app: Any, method: str = "post") -> st.SearchStrategy[Any]:
    """Any JSON; objects with the endpoint's keys and random values; objects shaped by its schema."""
    spec = app.openapi()
    schema = _resolve(spec["paths"][route][method]["requestBody"]["content"]["application/json"]["schema"], spec)
    properties = {name: _resolve(prop, spec) if "$ref" in prop else prop for name, prop in schema["properties"].items()}
    required = set(schema.get("required", ()))
    random_values = st.fixed_dictionaries({}, optional={name: JSON_VALUES for name in properties})
    shaped = st.fixed_dictionaries(
        {n: _plausible(n, p, spec) for n, p in properties.items() if n in required},
        optional={n: _plausible(n, p, spec) for n, p in properties.items() if n not in required},
    )
    return JSON_VALUES | random_values | shaped


@pytest.fixture
async def target(endpoint: tuple[str, str], start_service: ServiceStarter) -> tuple[RunningService, list[str]]:
    """The endpoint's service, prepared, and the ids its path may carry."""
    service = await start_service(endpoint[0])
    ids = await prepare(service)
    return service, list(ids.values())


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS, ids=lambda e: f"{e[0]} POST {e[1]}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_json_posted_to_any_endpoint_gets_a_problem_not_a_server_error(
    endpoint: tuple[str, str], target: tuple[RunningService, list[str]], data: st.DataObject
) -> None:
    service, ids = target
    route = endpoint[1]
    body = data.draw(request_bodies(route, service.app), label="body")
    url = _url(route, data.draw(st.sampled_from(ids), label="id"), {}) if "{" in route else route

    # Escaped as ASCII, so lone surrogates travel as a careless client would send them.
    auth = tokens.bearer(caller_for(service.name, route))
    response = await service.http.post(url, content=json.dumps(body), headers={"content-type": "application/json", **auth})

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON


INTAKE_PATCH_ENDPOINTS = [
    ("intake", route.path) for route in DEFINITIONS["intake"].router.routes if "PATCH" in getattr(route, "methods", ())
]


@pytest.mark.parametrize("endpoint", INTAKE_PATCH_ENDPOINTS, ids=lambda e: f"{e[0]} PATCH {e[1]}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_json_patched_to_an_intake_file_gets_a_problem_not_a_server_error(
    endpoint: tuple[str, str], target: tuple[RunningService, list[str]], data: st.DataObject
) -> None:
    service, ids = target
    route = endpoint[1]
    body = data.draw(request_bodies(route, service.app, "patch"), label="body")
    url = _url(route, data.draw(st.sampled_from(ids), label="id"), {})

    response = await service.http.patch(
        url, content=json.dumps(body), headers={"content-type": "application/json", **tokens.bearer(tokens.counsellor())}
    )

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON


GET_ENDPOINTS = [
    (name, route.path)
    for name, definition in DEFINITIONS.items()
    for route in definition.router.routes
    if "GET" in getattr(route, "methods", ())
]
CALLERS_OF_ANY_ROLE = [tokens.counsellor(), tokens.supervisor(), tokens.bank(), tokens.ops(), tokens.counsellor(association="restos-du-coeur")]


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS, ids=lambda e: f"{e[0]} GET {e[1]}")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_query_and_any_id_read_by_any_role_gets_an_answer_not_a_server_error(
    endpoint: tuple[str, str], target: tuple[RunningService, list[str]], data: st.DataObject
) -> None:
    service, ids = target
    route = endpoint[1]
    operation = service.app.openapi()["paths"][route]["get"]
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    query = data.draw(st.fixed_dictionaries({}, optional={n: TEXT | st.sampled_from(ids) for n in names}), label="query")
    path_id = data.draw(st.sampled_from(ids) | TEXT.filter(lambda t: t not in ("", ".", "..")), label="id")
    url = _url(route, quote(path_id, safe=""), {}) if "{" in route else route  # percent-encoded, as a client sends it
    caller = data.draw(st.sampled_from(CALLERS_OF_ANY_ROLE), label="caller")

    response = await service.http.get(url, params=query, headers=tokens.bearer(caller))

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON
