"""Every endpoint answers bad input with a 4xx problem document naming the field and the rule, never a 5xx."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
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
from shared.events import Topics
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
    prepared_once,
    PreparedService,
)
from tests.support import directory_service
from tests.support import notifications as notifications_support
from tests.support import tokens
from tests.support.intake import applicant as intake_applicant
from tests.support.intake import complete_file, first_appointment

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"
MALFORMED_ID = "dossier-42"
MALFORMED_JSON = b'{"amount_cents": 300000, "purpose": '
ROUTED_TYPE = "fr.microcredit.application.routed.v1"
HOOK_URL = notifications_support.HOOK_URL


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
CONTACTS = "/contacts"
ASSESSMENTS = "/assessments"
ASSESSMENT = "/assessments/{application_id}"
ASSESSMENT_AUDIT = "/assessments/{application_id}/audit"
FICP = "/assessments/{application_id}/ficp"
OUTCOME = "/assessments/{application_id}/outcome"
BANK_FILES = "/bank/files"
BANK_FILE = "/bank/files/{application_id}"
BANK_DECISION = "/bank/files/{application_id}/decision"
TIMERS = "/operations/timers"
SUBJECT = "/v1/subjects/{application_id}"
ERASURE = "/v1/subjects/{application_id}/erasure"
RESTRICTION = "/v1/subjects/{application_id}/restriction"
RETENTION_RUNS = "/v1/retention/runs"
RETENTION_RUN = "/v1/retention/runs/{run_date}"
LOANS = "/loans"
LOAN = "/loans/{loan_id}"
DISBURSEMENT = "/loans/{loan_id}/disbursement"
PAYMENTS = "/loans/{loan_id}/payments"
REVERSAL = "/loans/{loan_id}/payments/{payment_id}/reversal"
ADJUSTMENTS = "/loans/{loan_id}/adjustments"
ADJUSTMENT_PREVIEW = "/loans/{loan_id}/adjustment-preview"
ANSWER = "/loans/{loan_id}/adjustments/{adjustment_id}/answer"
SCHEDULE_VERSIONS = "/loans/{loan_id}/schedule-versions"
CLOSE_OF_BUSINESS = "/close-of-business"
CLOSE_OF_BUSINESS_RUN = "/close-of-business/{business_date}"
ALERTS = "/alerts"
ALERT = "/alerts/{alert_id}"
ACKNOWLEDGEMENT = "/alerts/{alert_id}/acknowledgement"
RESOLUTION = "/alerts/{alert_id}/resolution"
SNOOZE = "/alerts/{alert_id}/snooze"
EMAIL_PREFERENCE = "/preferences/email"
SUBSCRIPTIONS = "/webhooks/subscriptions"
SUBSCRIPTION = "/webhooks/subscriptions/{subscription_id}"
RESUMPTION = "/webhooks/subscriptions/{subscription_id}/resumption"
SUBSCRIPTION_DELIVERIES = "/webhooks/subscriptions/{subscription_id}/deliveries"
WEBHOOK_DELIVERY = "/webhooks/deliveries/{delivery_id}"
RESEND = "/webhooks/deliveries/{delivery_id}/resend"
DEAD_LETTERS = "/operations/dead-letters"
DEAD_LETTER = "/operations/dead-letters/{dead_letter_id}"
DEAD_LETTER_REPLAY = "/operations/dead-letters/{dead_letter_id}/replay"
DEAD_LETTERS_REPLAY = "/operations/dead-letter-replays"
DEAD_LETTER_DISCARD = "/operations/dead-letters/{dead_letter_id}/discard"
DEAD_LETTER_ROUTES = (DEAD_LETTERS, DEAD_LETTER, DEAD_LETTER_REPLAY, DEAD_LETTERS_REPLAY, DEAD_LETTER_DISCARD)

DISBURSED_TODAY = {"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def intake_project(**overrides: Any) -> dict[str, Any]:
    """Nadia Benali's car project, with some fields changed."""
    return {**complete_file()["project"], **overrides}


def patch(route: str, why: str, body: Any = None, **kw: Any) -> BadRequest:
    """A bad PATCH to an intake file."""
    return BadRequest("intake", "PATCH", route, why, body=body, **kw)
FIRST_PAYMENT = {"bank_reference": "VIR-2026-04-05-0001", "amount_cents": 8_791, "received_on": TODAY.isoformat()}
REJECTED = {"reason": "Prélèvement rejeté (AM04 : provision insuffisante)"}
PAUSE = {"terms": {"kind": "pause", "months": 2, "with_interest": True}, "reason": "Arrêt maladie : indemnités journalières en retard."}
ACCEPT = {"accept": True}
FICP_CLEAR = {"consulted_on": TODAY.isoformat(), "result": "not_registered", "reference": "FICP-2026-03-02-0417"}
UNFAVOURABLE = {"outcome": "unfavourable", "opinion": "Reste à vivre trop faible après l'échéance.",
                "reason_codes": ["insufficient_remaining"], "orientation": "budget_coaching"}
APPROVAL = {k: v for k, v in bank_approval().items() if k != "bank_id"}  # the bank is the caller's


# --- the directory: admins PUT entities by id (a PUT creates, so an unknown id is no error there) -------

NOT_AN_ID = "-dossier"  # an identifier starts with a letter or a digit
DIRECTORY = {"networks": "network_id", "associations": "association_id", "banks": "bank_id", "contacts": "username"}
DIRECTORY_BODIES = {
    "networks": ({"name": "Caritas", "max_instalment_share": "0.75"}, "max_instalment_share", "less_than_equal"),
    "associations": ({"name": "Croix-Rouge", "network_id": "croix-rouge-francaise", "regions": ["occitanie"]}, "network_id", "unknown_network"),
    "banks": ({"name": ""}, "name", "string_too_short"),
    "contacts": ({"display_name": "Claire Lefebvre", "email": "claire.lefebvre@", "role": "counsellor",
                  "association_id": "secours-catholique"}, "email", "value_error"),
}


def _directory_cases(collection: str, param: str) -> list[BadRequest]:
    one, audit, every = f"/{collection}/{{{param}}}", f"/{collection}/{{{param}}}/audit", f"/{collection}"
    body, field, rule = DIRECTORY_BODIES[collection]
    at = f"{collection}_entity"
    return [
        BadRequest("directory", "PUT", one, "a rule broken", at=at, body=body, field=field, rule=rule),
        BadRequest("directory", "PUT", one, "malformed id", at=NOT_AN_ID, body=body, field=f"path.{param}", rule="string_pattern_mismatch"),
        BadRequest("directory", "PUT", one, "malformed JSON", at=at, raw=MALFORMED_JSON, field="body", rule="json_invalid"),
        BadRequest("directory", "PUT", one, "unknown field", at=at, body={**body, "deleted": True}, field="deleted", rule="extra_forbidden"),
        BadRequest("directory", "PUT", one, "not an admin", at=at, body=body, caller=tokens.ops(), status=403, field="role", rule="forbidden_role"),
        get("directory", one, "malformed id", at=NOT_AN_ID, field=f"path.{param}", rule="string_pattern_mismatch"),
        unknown_id("directory", "GET", one),
        get("directory", every, "page size 0", query={"limit": 0}, field="query.limit", rule="greater_than_equal"),
        get("directory", audit, "malformed id", at=NOT_AN_ID, field=f"path.{param}", rule="string_pattern_mismatch"),
        unknown_id("directory", "GET", audit),
        get("directory", audit, "offset past the bound", at=at, query={"offset": 2**63}, field="query.offset", rule="less_than_equal"),
    ]


DISCARDED = {"reason": "Virement de test envoyé par erreur par la banque."}


# The right of access (DPO only): every service answers for any well-formed id what it holds about it (nothing is
# an answer too, not an unknown id); intake also finds a person's files.
SUBJECT_RECORDS = "/v1/privacy/subjects/{application_id}"
SUBJECT_SEARCH = "/v1/privacy/subjects"
PRIVACY_HOLDERS = ("intake", "assessment", "servicing", "notifications", "directory")


def _privacy_cases(service: str) -> list[BadRequest]:
    """A malformed subject id, and anyone but the DPO reading what a service holds about a person."""
    return [
        malformed_id(service, "GET", SUBJECT_RECORDS, "application_id"),
        get(service, SUBJECT_RECORDS, "a counsellor reading a person's records", at="unknown", caller=tokens.counsellor(),
            status=403, field="role", rule="forbidden_role"),
    ]


def _dead_letter_cases(service: str) -> list[BadRequest]:
    """Every service keeps its consumers' dead letters under /operations/dead-letters (ops only)."""
    counsellor = {"caller": tokens.counsellor(), "status": 403, "field": "role", "rule": "forbidden_role"}
    return [
        get(service, DEAD_LETTERS, "a status that is not one", query={"status": "perdu"}, field="query.status", rule="literal_error"),
        get(service, DEAD_LETTERS, "a group that is not an identifier", query={"group": "-bank payments"}, field="query.group", rule="string_pattern_mismatch"),
        get(service, DEAD_LETTERS, "NUL character in the reason", query={"reason": "rejected\u0000"}, field="query.reason", rule="string_pattern_mismatch"),
        get(service, DEAD_LETTERS, "a counsellor listing them", **counsellor),
        malformed_id(service, "GET", DEAD_LETTER, "dead_letter_id"),
        unknown_id(service, "GET", DEAD_LETTER),
        post(service, DEAD_LETTER_REPLAY, "a blank note", {"note": "   "}, at="unknown", field="note", rule="blank"),
        post(service, DEAD_LETTER_REPLAY, "a counsellor replaying", at="unknown", **counsellor),
        malformed_json(service, DEAD_LETTER_REPLAY, at="unknown"),
        malformed_id(service, "POST", DEAD_LETTER_REPLAY, "dead_letter_id"),
        unknown_id(service, "POST", DEAD_LETTER_REPLAY),
        post(service, DEAD_LETTERS_REPLAY, "neither ids nor reason", {}, field="body", rule="one_selection"),
        post(service, DEAD_LETTERS_REPLAY, "both ids and reason", {"ids": [str(uuid4())], "reason": "rejected"}, field="body", rule="one_selection"),
        post(service, DEAD_LETTERS_REPLAY, "an empty selection", {"ids": []}, field="ids", rule="too_short"),
        post(service, DEAD_LETTERS_REPLAY, "an id that is not one", {"ids": [MALFORMED_ID]}, field="ids.0", rule="uuid_parsing"),
        post(service, DEAD_LETTERS_REPLAY, "an unknown dead letter", {"ids": [str(uuid4())]}, status=404),
        malformed_json(service, DEAD_LETTERS_REPLAY),
        post(service, DEAD_LETTER_DISCARD, "no reason", {}, at="unknown", field="reason", rule="missing"),
        post(service, DEAD_LETTER_DISCARD, "a blank reason", {"reason": "   "}, at="unknown", field="reason", rule="blank"),
        post(service, DEAD_LETTER_DISCARD, "a counsellor discarding", DISCARDED, at="unknown", **counsellor),
        malformed_json(service, DEAD_LETTER_DISCARD, at="unknown"),
        malformed_id(service, "POST", DEAD_LETTER_DISCARD, "dead_letter_id", body=DISCARDED),
        unknown_id(service, "POST", DEAD_LETTER_DISCARD, body=DISCARDED),
    ]


DIRECTORY_CASES = [
    *(case for collection, param in DIRECTORY.items() for case in _directory_cases(collection, param)),
    get("directory", "/contacts", "a role that is not one", query={"role": "banker"}, field="query.role", rule="literal_error"),
    get("directory", "/associations", "a region that is no identifier", query={"region": "hauts de france"}, field="query.region",
        rule="string_pattern_mismatch"),
]


CASES: list[BadRequest] = [
    # --- intake --------------------------------------------------------------------------------------
    post("intake", APPLICATIONS, "amount 299.99 €", complete_file(amount_cents=29_999), field="amount_cents", rule="greater_than_equal"),
    post("intake", APPLICATIONS, "amount 8,000.01 €", complete_file(amount_cents=800_001), field="amount_cents", rule="less_than_equal"),
    post("intake", APPLICATIONS, "amount in euros with a fraction", complete_file(amount_cents=3000.5), field="amount_cents", rule="int_from_float"),
    post("intake", APPLICATIONS, "amount in words", complete_file(amount_cents="trois mille euros"), field="amount_cents", rule="int_type"),
    post("intake", APPLICATIONS, "amount as a numeric string", complete_file(amount_cents="300000"), field="amount_cents", rule="int_type"),
    post("intake", APPLICATIONS, "over-indebted as a word", complete_file(applicant=intake_applicant(over_indebted="yes")), field="applicant.over_indebted", rule="bool_type"),
    post("intake", APPLICATIONS, "birth date as a number", complete_file(applicant=intake_applicant(birth_date=0)), field="applicant.birth_date", rule="date_type"),
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
    post("intake", CONTACTS, "not eligible without a reason", {"referral_source": "ccas", "outcome": "not_eligible"}, field="reason", rule="required_for_outcome"),
    post("intake", CONTACTS, "oriented without the aid", {"referral_source": "ccas", "outcome": "oriented"}, field="oriented_to", rule="required_for_outcome"),
    post("intake", CONTACTS, "an appointment with a reason", {"referral_source": "ccas", "outcome": "appointment", "reason": "other"}, field="reason", rule="not_for_outcome"),
    post("intake", CONTACTS, "an appointment yesterday", {"referral_source": "ccas", "outcome": "appointment", "appointment_on": (TODAY - timedelta(days=1)).isoformat()}, field="appointment_on", rule="not_past"),
    post("intake", CONTACTS, "an outcome outside the list", {"referral_source": "ccas", "outcome": "callback"}, field="outcome", rule="enum"),
    post("intake", CONTACTS, "the person's name", {"referral_source": "ccas", "outcome": "appointment", "applicant_name": "Nadia Benali"}, field="applicant_name", rule="extra_forbidden"),
    post("intake", CONTACTS, "ops logging a contact", {"referral_source": "ccas", "outcome": "appointment"}, caller=tokens.ops(), status=403, field="role", rule="forbidden_role"),
    malformed_json("intake", CONTACTS),
    get("intake", CONTACTS, "page size 501", query={"limit": 501}, field="query.limit", rule="less_than_equal"),
    get("intake", CONTACTS, "a bank reading contacts", caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
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
    post("assessment", FICP, "a consultation date as a number", {**FICP_CLEAR, "consulted_on": 20260302}, at="pending_file", field="consulted_on", rule="date_type"),
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
    post("assessment", OUTCOME, "rate in words", favourable_outcome(annual_rate="trois pour cent"), at="pending_file", field="annual_rate", rule="string_pattern_mismatch"),
    post("assessment", OUTCOME, "rate with seven decimals", favourable_outcome(annual_rate=0.0350001), at="pending_file", field="annual_rate", rule="decimal_max_places"),
    post("assessment", OUTCOME, "amount as a numeric string", favourable_outcome(amount_cents="300000"), at="pending_file", field="amount_cents", rule="int_type"),
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
    post("assessment", BANK_DECISION, "months as a string", {**APPROVAL, "duration_months": "36"}, at="favourable_file", field="duration_months", rule="int_type"),
    post("assessment", BANK_DECISION, "a rate in scientific notation", {**APPROVAL, "annual_rate": "3.5E-2"}, at="favourable_file", field="annual_rate", rule="string_pattern_mismatch"),
    post("assessment", BANK_DECISION, "usurious terms", {**APPROVAL, "amount_cents": 800_000, "annual_rate": "0.2"}, at="favourable_file", field="annual_rate", rule="usury_cap"),
    post("assessment", BANK_DECISION, "a file not routed to the bank", APPROVAL, at="pending_file", status=404),
    post("assessment", BANK_DECISION, "another bank's file", APPROVAL, at="favourable_file", caller=tokens.bank("la-banque-postale"), status=404),
    post("assessment", BANK_DECISION, "another decision once decided", {"decision": "decline", "reason": "Finalement refusé."}, at="decided_file", status=409, field="decision", rule="already_decided"),
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
    get("servicing", LOANS, "page size 0", query={"limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("servicing", LOANS, "application id not a UUID", query={"application_id": MALFORMED_ID}, field="query.application_id", rule="uuid_parsing"),
    malformed_id("servicing", "GET", LOAN, "loan_id"),
    unknown_id("servicing", "GET", LOAN),
    post("servicing", DISBURSEMENT, "disbursed tomorrow", {**DISBURSED_TODAY, "disbursed_on": (TODAY + timedelta(days=1)).isoformat()}, at="pending_loan", field="disbursed_on", rule="not_future"),
    post("servicing", DISBURSEMENT, "30 February", {**DISBURSED_TODAY, "disbursed_on": "2026-02-30"}, at="pending_loan", field="disbursed_on", rule="date_from_datetime_parsing"),
    post("servicing", DISBURSEMENT, "NUL character in the payee", {**DISBURSED_TODAY, "payee": "Garage\u0000Dupont"}, at="pending_loan", field="payee", rule="string_pattern_mismatch"),
    post("servicing", DISBURSEMENT, "no payee", {"disbursed_on": TODAY.isoformat()}, at="pending_loan", field="payee", rule="missing"),
    post("servicing", DISBURSEMENT, "a date as a number", {**DISBURSED_TODAY, "disbursed_on": 20260302}, at="pending_loan", field="disbursed_on", rule="date_type"),
    post("servicing", DISBURSEMENT, "loan already active", DISBURSED_TODAY, at="active_loan", status=409, field="disbursed_on", rule="state"),
    malformed_json("servicing", DISBURSEMENT, at="pending_loan"),
    malformed_id("servicing", "POST", DISBURSEMENT, "loan_id", body=DISBURSED_TODAY),
    unknown_id("servicing", "POST", DISBURSEMENT, body=DISBURSED_TODAY),
    post("servicing", PAYMENTS, "received tomorrow", {**FIRST_PAYMENT, "received_on": (TODAY + timedelta(days=1)).isoformat()}, at="active_loan", field="received_on", rule="not_future"),
    post("servicing", PAYMENTS, "received before the disbursement", {**FIRST_PAYMENT, "received_on": (TODAY - timedelta(days=1)).isoformat()}, at="active_loan", field="received_on", rule="before_disbursement"),
    post("servicing", PAYMENTS, "zero payment", {**FIRST_PAYMENT, "amount_cents": 0}, at="active_loan", field="amount_cents", rule="greater_than"),
    post("servicing", PAYMENTS, "an amount as a string", {**FIRST_PAYMENT, "amount_cents": "8791"}, at="active_loan", field="amount_cents", rule="int_type"),
    post("servicing", PAYMENTS, "an amount in euros with cents", {**FIRST_PAYMENT, "amount_cents": 87.91}, at="active_loan", field="amount_cents", rule="int_from_float"),
    post("servicing", PAYMENTS, "a date as a number", {**FIRST_PAYMENT, "received_on": 0}, at="active_loan", field="received_on", rule="date_type"),
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
    post("servicing", CLOSE_OF_BUSINESS, "business date as a number", {"business_date": 0}, field="business_date", rule="date_type"),
    malformed_json("servicing", CLOSE_OF_BUSINESS),
    post("servicing", CLOSE_OF_BUSINESS, "a counsellor cannot run the close of business", {"business_date": TODAY.isoformat()}, caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    get("servicing", CLOSE_OF_BUSINESS, "a page too large", query={"limit": 501}, field="query.limit", rule="less_than_equal"),
    get("servicing", CLOSE_OF_BUSINESS, "a counsellor cannot see the runs", caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    get("servicing", CLOSE_OF_BUSINESS_RUN, "30 February", at="2026-02-30", field="path.business_date", rule="date_from_datetime_parsing"),
    get("servicing", CLOSE_OF_BUSINESS_RUN, "a date never run", at="2026-03-01", status=404),
    post("servicing", PAYMENTS, "a payment for another bank's loan", FIRST_PAYMENT, at="active_loan", caller=tokens.bank("la-banque-postale"), status=404),
    get("servicing", LOAN, "another association's loan", at="active_loan", caller=tokens.counsellor(association="restos-du-coeur"), status=404),
    malformed_id("servicing", "GET", PAYMENTS, "loan_id"),
    get("servicing", PAYMENTS, "page size 0", at="active_loan", query={"limit": 0}, field="query.limit", rule="greater_than_equal"),
    unknown_id("servicing", "GET", PAYMENTS),
    post("servicing", REVERSAL, "no reason", {}, at="active_loan/first_payment", field="reason", rule="missing"),
    post("servicing", REVERSAL, "an empty reason", {"reason": ""}, at="active_loan/first_payment", field="reason", rule="string_too_short"),
    post("servicing", REVERSAL, "NUL character in the reason", {"reason": "Rejet\u0000AM04"}, at="active_loan/first_payment", field="reason", rule="string_pattern_mismatch"),
    post("servicing", REVERSAL, "a reversal of another amount than the payment's", {**REJECTED, "amount_cents": 1}, at="active_loan/first_payment", field="amount_cents", rule="not_the_payment_amount"),
    post("servicing", REVERSAL, "an amount as a string", {**REJECTED, "amount_cents": "8791"}, at="active_loan/first_payment", field="amount_cents", rule="int_type"),
    post("servicing", REVERSAL, "a counsellor reversing a payment", REJECTED, at="active_loan/first_payment", caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    post("servicing", REVERSAL, "another bank's loan", REJECTED, at="active_loan/first_payment", caller=tokens.bank("la-banque-postale"), status=404),
    malformed_json("servicing", REVERSAL, at="active_loan/first_payment"),
    malformed_id("servicing", "POST", REVERSAL, "loan_id", body=REJECTED),
    BadRequest("servicing", "POST", REVERSAL, "payment id not a UUID", at=f"active_loan/{MALFORMED_ID}", body=REJECTED, field="path.payment_id", rule="uuid_parsing"),
    unknown_id("servicing", "POST", REVERSAL, body=REJECTED),
    BadRequest("servicing", "POST", REVERSAL, "unknown payment", at="active_loan/unknown", body=REJECTED, status=404),
    malformed_id("servicing", "GET", ADJUSTMENTS, "loan_id"),
    get("servicing", ADJUSTMENTS, "offset past the bound", at="active_loan", query={"offset": 100_001}, field="query.offset", rule="less_than_equal"),
    unknown_id("servicing", "GET", ADJUSTMENTS),
    post("servicing", ADJUSTMENTS, "a pause without saying whether interest runs", {**PAUSE, "terms": {"kind": "pause", "months": 2}}, at="active_loan", field="terms.with_interest", rule="required_for_kind"),
    post("servicing", ADJUSTMENTS, "an extension with a target instalment", {**PAUSE, "terms": {"kind": "extension", "months": 6, "instalment_cents": 5_000}}, at="active_loan", field="terms.instalment_cents", rule="not_for_kind"),
    post("servicing", ADJUSTMENTS, "a kind outside the list", {**PAUSE, "terms": {"kind": "holidays", "months": 2}}, at="active_loan", field="terms.kind", rule="literal_error"),
    post("servicing", ADJUSTMENTS, "a pause of 0 months", {**PAUSE, "terms": {**PAUSE["terms"], "months": 0}}, at="active_loan", field="terms.months", rule="greater_than_equal"),
    post("servicing", ADJUSTMENTS, "a pause of 13 months", {**PAUSE, "terms": {**PAUSE["terms"], "months": 13}}, at="active_loan", field="terms.months", rule="pause_too_long"),
    post("servicing", ADJUSTMENTS, "an instalment under the monthly interest", {**PAUSE, "terms": {"kind": "lower_instalment", "instalment_cents": 800}}, at="active_loan", field="terms.instalment_cents", rule="below_monthly_interest"),
    post("servicing", ADJUSTMENTS, "with_interest as a word", {**PAUSE, "terms": {**PAUSE["terms"], "with_interest": "oui"}}, at="active_loan", field="terms.with_interest", rule="bool_type"),
    post("servicing", ADJUSTMENTS, "months as a string", {**PAUSE, "terms": {**PAUSE["terms"], "months": "2"}}, at="active_loan", field="terms.months", rule="int_type"),
    post("servicing", ADJUSTMENTS, "no reason", {"terms": PAUSE["terms"]}, at="active_loan", field="reason", rule="missing"),
    post("servicing", ADJUSTMENTS, "unknown field", {**PAUSE, "urgent": True}, at="active_loan", field="urgent", rule="extra_forbidden"),
    post("servicing", ADJUSTMENTS, "a loan not disbursed yet", PAUSE, at="pending_loan", status=409, field="terms", rule="state"),
    post("servicing", ADJUSTMENTS, "a request already waiting for the bank", PAUSE, at="adjusted_loan", status=409, field="terms", rule="open_request"),
    post("servicing", ADJUSTMENTS, "a bank asking itself", PAUSE, at="active_loan", caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    post("servicing", ADJUSTMENTS, "another association's loan", PAUSE, at="active_loan", caller=tokens.counsellor(association="restos-du-coeur"), status=404),
    malformed_json("servicing", ADJUSTMENTS, at="active_loan"),
    malformed_id("servicing", "POST", ADJUSTMENTS, "loan_id", body=PAUSE),
    unknown_id("servicing", "POST", ADJUSTMENTS, body=PAUSE),
    post("servicing", ADJUSTMENT_PREVIEW, "a pause without saying whether interest runs", {"terms": {"kind": "pause", "months": 2}}, at="active_loan", field="terms.with_interest", rule="required_for_kind"),
    post("servicing", ADJUSTMENT_PREVIEW, "a pause of 13 months", {"terms": {**PAUSE["terms"], "months": 13}}, at="active_loan", field="terms.months", rule="pause_too_long"),
    post("servicing", ADJUSTMENT_PREVIEW, "a reason, as if asking", PAUSE, at="active_loan", field="reason", rule="extra_forbidden"),
    post("servicing", ADJUSTMENT_PREVIEW, "no terms", {}, at="active_loan", field="terms", rule="missing"),
    post("servicing", ADJUSTMENT_PREVIEW, "a loan not disbursed yet", {"terms": PAUSE["terms"]}, at="pending_loan", status=409, field="terms", rule="state"),
    post("servicing", ADJUSTMENT_PREVIEW, "a bank previewing", {"terms": PAUSE["terms"]}, at="active_loan", caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    post("servicing", ADJUSTMENT_PREVIEW, "another association's loan", {"terms": PAUSE["terms"]}, at="active_loan", caller=tokens.counsellor(association="restos-du-coeur"), status=404),
    malformed_json("servicing", ADJUSTMENT_PREVIEW, at="active_loan"),
    malformed_id("servicing", "POST", ADJUSTMENT_PREVIEW, "loan_id", body={"terms": PAUSE["terms"]}),
    unknown_id("servicing", "POST", ADJUSTMENT_PREVIEW, body={"terms": PAUSE["terms"]}),
    post("servicing", ANSWER, "no answer", {}, at="adjusted_loan/open_adjustment", field="accept", rule="missing"),
    post("servicing", ANSWER, "an answer in words", {"accept": "oui"}, at="adjusted_loan/open_adjustment", field="accept", rule="bool_type"),
    post("servicing", ANSWER, "an answer as a number", {"accept": 1}, at="adjusted_loan/open_adjustment", field="accept", rule="bool_type"),
    post("servicing", ANSWER, "a refusal without its reason", {"accept": False}, at="adjusted_loan/open_adjustment", field="reason", rule="required_to_refuse"),
    post("servicing", ANSWER, "an adjustment already answered", ACCEPT, at="active_loan/answered_adjustment", status=409, field="accept", rule="already_answered"),
    post("servicing", ANSWER, "a counsellor answering for the bank", ACCEPT, at="adjusted_loan/open_adjustment", caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    post("servicing", ANSWER, "another bank's loan", ACCEPT, at="adjusted_loan/open_adjustment", caller=tokens.bank("la-banque-postale"), status=404),
    malformed_json("servicing", ANSWER, at="adjusted_loan/open_adjustment"),
    malformed_id("servicing", "POST", ANSWER, "loan_id", body=ACCEPT),
    BadRequest("servicing", "POST", ANSWER, "adjustment id not a UUID", at=f"adjusted_loan/{MALFORMED_ID}", body=ACCEPT, field="path.adjustment_id", rule="uuid_parsing"),
    unknown_id("servicing", "POST", ANSWER, body=ACCEPT),
    BadRequest("servicing", "POST", ANSWER, "unknown adjustment", at="adjusted_loan/unknown", body=ACCEPT, status=404),
    malformed_id("servicing", "GET", SCHEDULE_VERSIONS, "loan_id"),
    get("servicing", SCHEDULE_VERSIONS, "page size 501", at="active_loan", query={"limit": 501}, field="query.limit", rule="less_than_equal"),
    unknown_id("servicing", "GET", SCHEDULE_VERSIONS),
    # --- notifications -------------------------------------------------------------------------------
    get("notifications", ALERTS, "a bank cannot read alerts", query={}, caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    get("notifications", ALERTS, "counsellor id too long", query={"counsellor_id": "c-" + "x" * 63}, field="query.counsellor_id", rule="string_too_long"),
    get("notifications", ALERTS, "NUL character in the counsellor id", query={"counsellor_id": "c-\u0000"}, field="query.counsellor_id", rule="string_pattern_mismatch"),
    get("notifications", ALERTS, "loan id not a UUID", query={"counsellor_id": "c-lefebvre", "loan_id": MALFORMED_ID}, field="query.loan_id", rule="uuid_parsing"),
    get("notifications", ALERTS, "page size 0", query={"counsellor_id": "c-lefebvre", "limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("notifications", ALERTS, "page size 501", query={"counsellor_id": "c-lefebvre", "limit": 501}, field="query.limit", rule="less_than_equal"),
    get("notifications", ALERTS, "negative offset", query={"counsellor_id": "c-lefebvre", "offset": -1}, field="query.offset", rule="greater_than_equal"),
    get("notifications", ALERTS, "offset past the bound", query={"offset": 2**63}, field="query.offset", rule="less_than_equal"),
    malformed_id("notifications", "GET", ALERT, "alert_id"),
    unknown_id("notifications", "GET", ALERT),
    get("notifications", ALERTS, "a status that is not one", query={"status": "lu"}, field="query.status", rule="literal_error"),
    get("notifications", ALERTS, "a severity that is not one", query={"severity": "urgente"}, field="query.severity", rule="literal_error"),
    get("notifications", ALERTS, "file id not a UUID", query={"application_id": MALFORMED_ID}, field="query.application_id", rule="uuid_parsing"),
    get("notifications", ALERTS, "a cause that is not an event type", query={"cause_type": "impayé"}, field="query.cause_type", rule="string_pattern_mismatch"),
    malformed_id("notifications", "POST", ACKNOWLEDGEMENT, "alert_id"),
    unknown_id("notifications", "POST", ACKNOWLEDGEMENT),
    post("notifications", ACKNOWLEDGEMENT, "a resolved alert", at="resolved_alert", status=409, field="status", rule="state"),
    post("notifications", ACKNOWLEDGEMENT, "a bank acknowledging", at="alert", caller=tokens.bank(), status=403, field="role", rule="forbidden_role"),
    post("notifications", ACKNOWLEDGEMENT, "the supervisors' alert by a counsellor", at="supervisor_alert", status=404),
    post("notifications", RESOLUTION, "no note", {}, at="alert", field="note", rule="missing"),
    post("notifications", RESOLUTION, "empty note", {"note": ""}, at="alert", field="note", rule="string_too_short"),
    post("notifications", RESOLUTION, "blank note", {"note": "   "}, at="alert", field="note", rule="blank"),
    post("notifications", RESOLUTION, "NUL character in the note", {"note": "Appelée\u0000"}, at="alert", field="note", rule="string_pattern_mismatch"),
    post("notifications", RESOLUTION, "note too long", {"note": "x" * 2001}, at="alert", field="note", rule="string_too_long"),
    post("notifications", RESOLUTION, "unknown field", {"note": "Rappelée.", "urgent": True}, at="alert", field="urgent", rule="extra_forbidden"),
    post("notifications", RESOLUTION, "a resolved alert", {"note": "Encore."}, at="resolved_alert", status=409, field="status", rule="state"),
    malformed_json("notifications", RESOLUTION, at="alert"),
    malformed_id("notifications", "POST", RESOLUTION, "alert_id", body={"note": "Rappelée."}),
    unknown_id("notifications", "POST", RESOLUTION, body={"note": "Rappelée."}),
    post("notifications", SNOOZE, "no date", {}, at="alert", field="until", rule="missing"),
    post("notifications", SNOOZE, "a date in words", {"until": "lundi prochain"}, at="alert", field="until", rule="date_from_datetime_parsing"),
    post("notifications", SNOOZE, "a date as a number", {"until": 0}, at="alert", field="until", rule="date_type"),
    post("notifications", SNOOZE, "until today", {"until": TODAY.isoformat()}, at="alert", field="until", rule="future_date"),
    post("notifications", SNOOZE, "until next year", {"until": (TODAY + timedelta(days=365)).isoformat()}, at="alert", field="until", rule="too_far"),
    post("notifications", SNOOZE, "unknown field", {"until": (TODAY + timedelta(days=2)).isoformat(), "hour": 9}, at="alert", field="hour", rule="extra_forbidden"),
    post("notifications", SNOOZE, "a resolved alert", {"until": (TODAY + timedelta(days=2)).isoformat()}, at="resolved_alert", status=409, field="status", rule="state"),
    malformed_json("notifications", SNOOZE, at="alert"),
    malformed_id("notifications", "POST", SNOOZE, "alert_id", body={"until": (TODAY + timedelta(days=2)).isoformat()}),
    unknown_id("notifications", "POST", SNOOZE, body={"until": (TODAY + timedelta(days=2)).isoformat()}),
    get("notifications", EMAIL_PREFERENCE, "a supervisor has no counsellor's preference", caller=tokens.supervisor(), status=403, field="role", rule="forbidden_role"),
    BadRequest("notifications", "PUT", EMAIL_PREFERENCE, "no mode", body={}, field="mode", rule="missing"),
    BadRequest("notifications", "PUT", EMAIL_PREFERENCE, "a weekly digest", body={"mode": "weekly_digest"}, field="mode", rule="literal_error"),
    BadRequest("notifications", "PUT", EMAIL_PREFERENCE, "digest at 24 h", body={"mode": "daily_digest", "digest_hour": 24}, field="digest_hour", rule="less_than_equal"),
    BadRequest("notifications", "PUT", EMAIL_PREFERENCE, "digest hour as a string", body={"mode": "daily_digest", "digest_hour": "18"}, field="digest_hour", rule="int_type"),
    BadRequest("notifications", "PUT", EMAIL_PREFERENCE, "digest hour as a flag", body={"mode": "daily_digest", "digest_hour": True}, field="digest_hour", rule="int_type"),
    BadRequest("notifications", "PUT", EMAIL_PREFERENCE, "unknown field", body={"mode": "immediate", "sms": True}, field="sms", rule="extra_forbidden"),
    BadRequest("notifications", "PUT", EMAIL_PREFERENCE, "malformed JSON", raw=MALFORMED_JSON, field="body", rule="json_invalid"),
    post("notifications", SUBSCRIPTIONS, "no URL", {"event_types": [ROUTED_TYPE]}, field="url", rule="missing"),
    post("notifications", SUBSCRIPTIONS, "an FTP URL", {"url": "ftp://ftp.credit-mutuel-nord.example/in", "event_types": [ROUTED_TYPE]}, field="url", rule="string_pattern_mismatch"),
    post("notifications", SUBSCRIPTIONS, "a space in the URL", {"url": "https://hooks.example/a b", "event_types": [ROUTED_TYPE]}, field="url", rule="string_pattern_mismatch"),
    post("notifications", SUBSCRIPTIONS, "a URL without host", {"url": "https:///microcredit", "event_types": [ROUTED_TYPE]}, field="url", rule="value_error"),
    post("notifications", SUBSCRIPTIONS, "plain http", {"url": "http://hooks.credit-mutuel-nord.example/in", "event_types": [ROUTED_TYPE]}, field="url", rule="https_required"),
    post("notifications", SUBSCRIPTIONS, "URL too long", {"url": "https://hooks.example/" + "a" * 2000, "event_types": [ROUTED_TYPE]}, field="url", rule="string_too_long"),
    post("notifications", SUBSCRIPTIONS, "no event type", {"url": HOOK_URL, "event_types": []}, field="event_types", rule="too_short"),
    post("notifications", SUBSCRIPTIONS, "an event banks do not get", {"url": HOOK_URL, "event_types": ["fr.microcredit.application.submitted.v1"]}, field="event_types.0", rule="literal_error"),
    post("notifications", SUBSCRIPTIONS, "an event type twice", {"url": HOOK_URL, "event_types": [ROUTED_TYPE, ROUTED_TYPE]}, field="event_types", rule="value_error"),
    post("notifications", SUBSCRIPTIONS, "unknown field", {"url": HOOK_URL, "event_types": [ROUTED_TYPE], "secret": "mine"}, field="secret", rule="extra_forbidden"),
    post("notifications", SUBSCRIPTIONS, "a counsellor subscribing", {"url": HOOK_URL, "event_types": [ROUTED_TYPE]}, caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    malformed_json("notifications", SUBSCRIPTIONS),
    get("notifications", SUBSCRIPTIONS, "ops cannot list subscriptions", caller=tokens.ops(), status=403, field="role", rule="forbidden_role"),
    malformed_id("notifications", "GET", SUBSCRIPTION, "subscription_id"),
    unknown_id("notifications", "GET", SUBSCRIPTION),
    get("notifications", SUBSCRIPTION, "another bank's subscription", at="subscription", caller=tokens.bank("la-banque-postale"), status=404),
    malformed_id("notifications", "DELETE", SUBSCRIPTION, "subscription_id"),
    unknown_id("notifications", "DELETE", SUBSCRIPTION),
    malformed_id("notifications", "POST", RESUMPTION, "subscription_id"),
    unknown_id("notifications", "POST", RESUMPTION),
    malformed_id("notifications", "GET", SUBSCRIPTION_DELIVERIES, "subscription_id"),
    unknown_id("notifications", "GET", SUBSCRIPTION_DELIVERIES),
    get("notifications", SUBSCRIPTION_DELIVERIES, "a status that is not one", at="subscription", query={"status": "perdu"}, field="query.status", rule="literal_error"),
    get("notifications", SUBSCRIPTION_DELIVERIES, "page size 0", at="subscription", query={"limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("notifications", SUBSCRIPTION_DELIVERIES, "negative offset", at="subscription", query={"offset": -1}, field="query.offset", rule="greater_than_equal"),
    get("notifications", SUBSCRIPTION_DELIVERIES, "offset past the bound", at="subscription", query={"offset": 2**63}, field="query.offset", rule="less_than_equal"),
    malformed_id("notifications", "GET", WEBHOOK_DELIVERY, "delivery_id"),
    unknown_id("notifications", "GET", WEBHOOK_DELIVERY),
    malformed_id("notifications", "POST", RESEND, "delivery_id"),
    unknown_id("notifications", "POST", RESEND),
    post("notifications", RESEND, "another bank's delivery", at="delivery", caller=tokens.bank("la-banque-postale"), status=404),
    post("notifications", TIMERS, "a timer outside the list", {"timers": ["nightly_batch"]}, field="timers.0", rule="enum"),
    post("notifications", TIMERS, "no timer", {"timers": []}, field="timers", rule="too_short"),
    post("notifications", TIMERS, "unknown field", {"dry_run": True}, field="dry_run", rule="extra_forbidden"),
    post("notifications", TIMERS, "a counsellor running the timers", {}, caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    malformed_json("notifications", TIMERS),
    *DIRECTORY_CASES,
    post("intake", TIMERS, "a timer outside the list", {"timers": ["nightly_purge"]}, field="timers.0", rule="enum"),
    malformed_json("intake", TIMERS),
    malformed_id("privacy", "GET", SUBJECT, "application_id"),
    unknown_id("privacy", "GET", SUBJECT),
    get("privacy", SUBJECT, "a counsellor reading the DPO's ledger", at="unknown", caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    malformed_id("privacy", "POST", ERASURE, "application_id"),
    unknown_id("privacy", "POST", ERASURE),
    post("privacy", ERASURE, "a supervisor erasing a file", at="unknown", caller=tokens.supervisor(), status=403, field="role", rule="forbidden_role"),
    malformed_id("privacy", "PUT", RESTRICTION, "application_id"),
    unknown_id("privacy", "PUT", RESTRICTION),
    malformed_id("privacy", "DELETE", RESTRICTION, "application_id"),
    unknown_id("privacy", "DELETE", RESTRICTION),
    get("privacy", RETENTION_RUNS, "page size 0", query={"limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("privacy", RETENTION_RUNS, "a counsellor reading the reports", caller=tokens.counsellor(), status=403, field="role", rule="forbidden_role"),
    get("privacy", RETENTION_RUN, "30 February", at="2026-02-30", field="path.run_date", rule="date_from_datetime_parsing"),
    get("privacy", RETENTION_RUN, "a day never run", at="2026-03-01", status=404),
    post("privacy", TIMERS, "a timer outside the list", {"timers": ["nightly_purge"]}, field="timers.0", rule="enum"),
    malformed_json("privacy", TIMERS),
    *(case for name in DEFINITIONS for case in _dead_letter_cases(name)),
    *(case for name in PRIVACY_HOLDERS for case in _privacy_cases(name)),
    get("intake", SUBJECT_SEARCH, "no name and no birth date", query={}, field="query.name", rule="criterion_required"),
    get("intake", SUBJECT_SEARCH, "a name of one letter", query={"name": "B"}, field="query.name", rule="string_too_short"),
    get("intake", SUBJECT_SEARCH, "NUL character in the name", query={"name": "Ben\u0000ali"}, field="query.name", rule="string_pattern_mismatch"),
    get("intake", SUBJECT_SEARCH, "no result asked for", query={"name": "Benali", "limit": 0}, field="query.limit", rule="greater_than_equal"),
    get("intake", SUBJECT_SEARCH, "a supervisor searching people", query={"name": "Benali"}, caller=tokens.supervisor(),
        status=403, field="role", rule="forbidden_role"),
    post("intake", DEAD_LETTER_REPLAY, "a dead letter already discarded", at="discarded_dead_letter", status=409, field="status", rule="not_pending"),
    post("intake", DEAD_LETTERS_REPLAY, "a selection naming a discarded one", {"ids": ["discarded_dead_letter"]}, status=409, field="status", rule="not_pending"),
    post("intake", DEAD_LETTER_DISCARD, "a dead letter already discarded", DISCARDED, at="discarded_dead_letter", status=409, field="status", rule="not_pending"),
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
    # A record intake cannot read, dead-lettered, kept and discarded by ops.
    await service.deliver_raw(MALFORMED_JSON, topic=Topics.APPLICATIONS, key=b"dossier-42")
    [kept] = await service.fetch("select id from dead_letters")
    ids["discarded_dead_letter"] = str(kept["id"])
    discarded = await service.http.post(f"/operations/dead-letters/{kept['id']}/discard", json=DISCARDED, headers=tokens.bearer(tokens.ops()))
    assert discarded.status_code == 200, discarded.text
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
        ids.update(await prepare_servicing(service, ids["active_loan"]))
    elif service.name == "notifications":
        ids.update(await notifications_support.prepare(service))
    elif service.name == "directory":
        await directory_service.fill(service)
        ids.update({f"{path.partition('/')[0]}_entity": path.partition("/")[2] for path in (
            "networks/secours-catholique-caritas", "associations/secours-catholique", "banks/credit-mutuel-nord", "contacts/c-lefebvre",
        )})
    return ids


async def prepare_servicing(service: RunningService, active_loan: str) -> dict[str, str]:
    """On the active loan: a payment, a reversed payment and a refused adjustment; another loan with an open request."""
    bank, counsellor = tokens.bearer(tokens.bank()), tokens.bearer(tokens.counsellor())
    ids: dict[str, str] = {}
    for name, reference in (("first_payment", "VIR-2026-03-02-0001"), ("reversed_payment", "VIR-2026-03-02-0002")):
        paid = await service.http.post(f"/loans/{active_loan}/payments", json={**FIRST_PAYMENT, "bank_reference": reference}, headers=bank)
        assert paid.status_code == 201, paid.text
        ids[name] = paid.json()["id"]
    reversed_ = await service.http.post(f"/loans/{active_loan}/payments/{ids['reversed_payment']}/reversal", json=REJECTED, headers=bank)
    assert reversed_.status_code == 200, reversed_.text
    asked = await service.http.post(f"/loans/{active_loan}/adjustments", json=PAUSE, headers=counsellor)
    assert asked.status_code == 201, asked.text
    ids["answered_adjustment"] = asked.json()["id"]
    refused = await service.http.post(
        f"/loans/{active_loan}/adjustments/{ids['answered_adjustment']}/answer",
        json={"accept": False, "reason": "Demande prématurée : aucune échéance encore due."}, headers=bank,
    )
    assert refused.status_code == 200, refused.text
    other = loan_approved()
    await service.deliver(other)
    ids["adjusted_loan"] = str(loan_id_for(other.data.application_id))
    disbursed = await service.http.post(f"/loans/{ids['adjusted_loan']}/disbursement", json=DISBURSED_TODAY, headers=bank)
    assert disbursed.status_code == 200, disbursed.text
    open_request = await service.http.post(f"/loans/{ids['adjusted_loan']}/adjustments", json=PAUSE, headers=counsellor)
    assert open_request.status_code == 201, open_request.text
    ids["open_adjustment"] = open_request.json()["id"]
    # Both ids of a two-id path at once, so that random requests can reach the business rules too.
    ids["payment_path"] = f"{active_loan}/{ids['first_payment']}"
    ids["adjustment_path"] = f"{ids['adjusted_loan']}/{ids['open_adjustment']}"
    return ids


def _url(route: str, at: str | None, ids: dict[str, str]) -> str:
    """`route` with its path parameters filled in order from `at` ("loan/payment"; one part fills them all)."""
    if at is None:
        return route
    parts = [ids.get(part, part) for part in ids.get(at, at).split("/")]
    for index in range(route.count("{")):
        start, end = route.index("{"), route.index("}")
        route = route[:start] + parts[min(index, len(parts) - 1)] + route[end + 1 :]
    return route


# Endpoints that are not for counsellors: the role a well-behaved client of each would have.
CALLERS: dict[tuple[str, str], Principal] = {
    ("servicing", "/loans/{loan_id}/disbursement"): tokens.bank(),
    ("servicing", "/loans/{loan_id}/payments"): tokens.bank(),
    ("servicing", REVERSAL): tokens.bank(),
    ("servicing", ANSWER): tokens.bank(),
    ("servicing", CLOSE_OF_BUSINESS): tokens.ops(),
    ("servicing", CLOSE_OF_BUSINESS_RUN): tokens.ops(),
    ("assessment", BANK_FILES): tokens.bank(),
    ("assessment", BANK_FILE): tokens.bank(),
    ("assessment", BANK_DECISION): tokens.bank(),
    ("assessment", TIMERS): tokens.ops(),
    **{(name, route): tokens.dpo() for name in PRIVACY_HOLDERS for route in (SUBJECT_RECORDS, SUBJECT_SEARCH)},
    ("notifications", TIMERS): tokens.ops(),
    ("privacy", TIMERS): tokens.ops(),
    ("intake", TIMERS): tokens.ops(),
    **{("privacy", route): tokens.dpo() for route in (SUBJECT, ERASURE, RESTRICTION, RETENTION_RUNS, RETENTION_RUN)},
    **{(name, route): tokens.ops() for name in DEFINITIONS for route in DEAD_LETTER_ROUTES},
    **{("directory", route): tokens.admin() for collection, param in DIRECTORY.items()
       for route in (f"/{collection}", f"/{collection}/{{{param}}}", f"/{collection}/{{{param}}}/audit")},
    **{("notifications", route): tokens.bank() for route in (SUBSCRIPTIONS, SUBSCRIPTION, RESUMPTION, SUBSCRIPTION_DELIVERIES, WEBHOOK_DELIVERY, RESEND)},
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
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("ids"), list):  # a selection may name prepared objects
        body = {**body, "ids": [ids.get(i, i) for i in body["ids"]]}
    return await service.http.request(case.method, url, json=body, params=case.query, headers=auth)


@pytest.fixture(scope="module")
async def prepared_service(postgres: str) -> AsyncIterator[PreparedService]:
    """Each service started and prepared once for the module's ~500 bad requests (a refused request changes nothing)."""
    async with prepared_once(postgres, prepare) as get:
        yield get


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_bad_request_gets_a_problem_naming_the_field_and_the_rule(case: BadRequest, prepared_service: PreparedService) -> None:
    service, ids = await prepared_service(case.service)
    response = await send(service, case, ids)

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


@functools.cache
def openapi_of(name: str) -> dict[str, Any]:
    """A service's OpenAPI document, built once: every app of a service has the same routes, the tests' included."""
    definition = DEFINITIONS[name]
    settings_ = definition.settings_cls(
        database_url="postgresql://unused@127.0.0.1:1/none", kafka_bootstrap_servers=UNREACHABLE_KAFKA, oidc_issuer=tokens.TEST_ISSUER
    )
    return definition.create_app(settings_, tracer_provider=TracerProvider()).openapi()


@pytest.mark.parametrize("name", DEFINITIONS)
def test_every_endpoint_taking_input_has_bad_input_cases(name: str) -> None:
    operations = {
        (method.upper(), path): operation for path, item in openapi_of(name)["paths"].items() for method, operation in item.items()
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
            # A PUT by id creates what it does not find: an unknown id is no error there.
            needed |= {"malformed id"} if method == "PUT" else {"malformed id", "unknown id"}
            if path == SUBJECT_RECORDS:
                needed.discard("unknown id")  # what a service holds about any id: nothing is an answer (200, empty lists)
        if "query" in where:
            needed.add("bad field")
        missing += [f"{method} {path}: {kind}" for kind in sorted(needed - kinds)]
    assert not missing, f"endpoints without a bad-input case: {missing}"


# --- whatever the body, never a server error ------------------------------------------------------

def _business_paths(name: str, method: str) -> list[tuple[str, str]]:
    """Every business endpoint of a service for `method`, read from its OpenAPI document (included routers too)."""
    spec = openapi_of(name)
    operational = {"/health", "/ready", "/metrics"}
    return [(name, path) for path, item in spec["paths"].items() if method in item and path not in operational]


POST_ENDPOINTS = [endpoint for name in DEFINITIONS for endpoint in _business_paths(name, "post")]
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
REALISTIC = {**INTAKE_REALISTIC, **application_body(), **favourable_outcome(), **bank_approval(), **DISBURSED_TODAY, **FIRST_PAYMENT, **ACCEPT, "terms": PAUSE["terms"], "business_date": TODAY.isoformat()}


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


@functools.cache
def request_bodies(route: str, service: str, method: str = "post") -> st.SearchStrategy[Any]:
    """Any JSON; objects with the endpoint's keys and random values; objects shaped by its schema (built once per endpoint)."""
    spec = openapi_of(service)
    if "requestBody" not in spec["paths"][route][method]:
        return JSON_VALUES  # an action without a body (acknowledge, resend…) must ignore whatever comes
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
    body = data.draw(request_bodies(route, service.name), label="body")
    url = _url(route, data.draw(st.sampled_from(ids), label="id"), {}) if "{" in route else route

    # Escaped as ASCII, so lone surrogates travel as a careless client would send them.
    auth = tokens.bearer(caller_for(service.name, route))
    response = await service.http.post(url, content=json.dumps(body), headers={"content-type": "application/json", **auth})

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON


INTAKE_PATCH_ENDPOINTS = [
    endpoint for endpoint in _business_paths("intake", "patch")
]


@pytest.mark.parametrize("endpoint", INTAKE_PATCH_ENDPOINTS, ids=lambda e: f"{e[0]} PATCH {e[1]}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_json_patched_to_an_intake_file_gets_a_problem_not_a_server_error(
    endpoint: tuple[str, str], target: tuple[RunningService, list[str]], data: st.DataObject
) -> None:
    service, ids = target
    route = endpoint[1]
    body = data.draw(request_bodies(route, service.name, "patch"), label="body")
    url = _url(route, data.draw(st.sampled_from(ids), label="id"), {})

    response = await service.http.patch(
        url, content=json.dumps(body), headers={"content-type": "application/json", **tokens.bearer(tokens.counsellor())}
    )

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON


GET_ENDPOINTS = [endpoint for name in DEFINITIONS for endpoint in _business_paths(name, "get")]
CALLERS_OF_ANY_ROLE = [
    tokens.counsellor(), tokens.supervisor(), tokens.bank(), tokens.ops(), tokens.counsellor(association="restos-du-coeur"), tokens.dpo(),
]


@pytest.fixture
async def read_target(endpoint: tuple[str, str], prepared_service: PreparedService) -> tuple[RunningService, list[str]]:
    """The endpoint's service as the module prepared it once, and the ids its path may carry: a read changes nothing."""
    service, ids = await prepared_service(endpoint[0])
    return service, list(ids.values())


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS, ids=lambda e: f"{e[0]} GET {e[1]}")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_query_and_any_id_read_by_any_role_gets_an_answer_not_a_server_error(
    endpoint: tuple[str, str], read_target: tuple[RunningService, list[str]], data: st.DataObject
) -> None:
    service, ids = read_target
    route = endpoint[1]
    operation = openapi_of(service.name)["paths"][route]["get"]
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    query = data.draw(st.fixed_dictionaries({}, optional={n: TEXT | st.sampled_from(ids) for n in names}), label="query")
    path_id = data.draw(st.sampled_from(ids) | TEXT.filter(lambda t: t not in ("", ".", "..")), label="id")
    url = _url(route, quote(path_id, safe="", errors="surrogatepass"), {}) if "{" in route else route  # percent-encoded, as a client sends it
    caller = data.draw(st.sampled_from(CALLERS_OF_ANY_ROLE), label="caller")

    # Percent-encoded by hand, so lone surrogates travel as a careless client would send them.
    query_string = "&".join(f"{quote(k)}={quote(v, safe='', errors='surrogatepass')}" for k, v in query.items())
    response = await service.http.get(f"{url}?{query_string}" if query_string else url, headers=tokens.bearer(caller))

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON
