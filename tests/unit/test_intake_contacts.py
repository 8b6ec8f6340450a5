"""First contacts' pure rules: each outcome takes its own fields and only those; the funnel adds them up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.intake.domain import (
    ContactOutcome,
    FirstContact,
    FunnelRow,
    NewFirstContact,
    NotEligibleReason,
    funnel,
    log_contact,
)
from shared.auth import Actor
from shared.errors import BusinessRuleError
from shared.events.vocabulary import ReferralSource

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
TODAY = NOW.date()
NADIA = Actor(subject="c-lefebvre", role="counsellor")


def logged(**fields: Any) -> FirstContact:
    """A first contact logged by counsellor c-lefebvre (Secours Catholique, Hauts-de-France) on the morning of 2 March 2026."""
    body = NewFirstContact.model_validate({"referral_source": "social_worker", **fields})
    return log_contact(
        body, contact_id=uuid4(), association_id="secours-catholique", region="hauts-de-france", actor=NADIA, now=NOW
    )


def refused(**fields: Any) -> BusinessRuleError:
    with pytest.raises(BusinessRuleError) as error:
        logged(**fields)
    assert error.value.status == 422
    return error.value


def test_an_appointment_is_logged_with_or_without_its_day() -> None:
    contact = logged(outcome="appointment", appointment_on="2026-03-09", branch_id="lens-centre")

    assert (contact.outcome, contact.appointment_on, contact.referral_source) == (
        ContactOutcome.APPOINTMENT, date(2026, 3, 9), ReferralSource.SOCIAL_WORKER
    )
    assert (contact.association_id, contact.region, contact.branch_id) == ("secours-catholique", "hauts-de-france", "lens-centre")
    assert (contact.counsellor_id, contact.created_at) == ("c-lefebvre", NOW)
    assert logged(outcome="appointment").appointment_on is None
    assert logged(outcome="appointment", appointment_on=TODAY.isoformat()).appointment_on == TODAY


def test_an_orientation_names_the_aid_the_person_was_sent_to() -> None:
    contact = logged(outcome="oriented", oriented_to="FSL du Pas-de-Calais")

    assert (contact.outcome, contact.oriented_to) == (ContactOutcome.ORIENTED, "FSL du Pas-de-Calais")
    missing, blank = refused(outcome="oriented"), refused(outcome="oriented", oriented_to="   ")
    assert (missing.field, missing.rule) == ("oriented_to", "required_for_outcome")
    assert (blank.field, blank.rule) == ("oriented_to", "blank")


def test_a_person_not_eligible_has_a_reason_and_may_have_a_note() -> None:
    contact = logged(outcome="not_eligible", reason="over_indebted", note="Plan Banque de France en cours, revoir dans un an.")

    assert (contact.reason, contact.note) == (NotEligibleReason.OVER_INDEBTED, "Plan Banque de France en cours, revoir dans un an.")
    assert logged(outcome="not_eligible", reason="need_not_covered").note is None
    error = refused(outcome="not_eligible", note="Dettes de consommation à regrouper.")
    assert (error.field, error.rule) == ("reason", "required_for_outcome")
    assert "reason" in error.detail


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"outcome": "appointment", "oriented_to": "CAF"}, "oriented_to"),
        ({"outcome": "appointment", "reason": "other"}, "reason"),
        ({"outcome": "appointment", "note": "Viendra avec ses relevés."}, "note"),
        ({"outcome": "oriented", "oriented_to": "CAF", "appointment_on": "2026-03-09"}, "appointment_on"),
        ({"outcome": "oriented", "oriented_to": "CAF", "reason": "need_not_covered"}, "reason"),
        ({"outcome": "oriented", "oriented_to": "CAF", "note": "Aide au logement."}, "note"),
        ({"outcome": "not_eligible", "reason": "other", "appointment_on": "2026-03-09"}, "appointment_on"),
        ({"outcome": "not_eligible", "reason": "other", "oriented_to": "Point conseil budget"}, "oriented_to"),
    ],
)
def test_an_outcome_takes_only_its_own_fields(fields: dict[str, Any], field: str) -> None:
    error = refused(**fields)

    assert (error.field, error.rule) == (field, "not_for_outcome")


def test_an_appointment_is_not_set_on_a_past_day() -> None:
    error = refused(outcome="appointment", appointment_on=(TODAY - timedelta(days=1)).isoformat())

    assert (error.field, error.rule) == ("appointment_on", "not_past")


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"outcome": "appointment", "applicant_name": "Nadia Benali"}, "applicant_name", "extra_forbidden"),
        ({"outcome": "rappel"}, "outcome", "enum"),
        ({"outcome": "not_eligible", "reason": "trop_endetté"}, "reason", "enum"),
        ({"outcome": "appointment", "referral_source": "facebook"}, "referral_source", "enum"),
        ({"outcome": "appointment", "appointment_on": 20260309}, "appointment_on", "date_type"),
        ({"outcome": "oriented", "oriented_to": "x" * 101}, "oriented_to", "string_too_long"),
        ({"outcome": "oriented", "oriented_to": "CAF\x00"}, "oriented_to", "string_pattern_mismatch"),
        ({"outcome": "not_eligible", "reason": "other", "note": ""}, "note", "string_too_short"),
    ],
)
def test_the_request_is_strict(fields: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(ValidationError) as error:
        NewFirstContact.model_validate({"referral_source": "ccas", **fields})

    assert [(e["loc"][0], e["type"]) for e in error.value.errors()] == [(field, rule)]


def test_nothing_says_who_the_person_is() -> None:
    assert set(FirstContact.model_fields) == {
        "id", "association_id", "branch_id", "region", "referral_source", "outcome", "appointment_on", "oriented_to",
        "reason", "note", "counsellor_id", "created_at",
    }


def test_the_funnel_total_adds_up_first_contacts_and_files() -> None:
    rows = [
        FunnelRow(association_id="restos-du-coeur", region="hauts-de-france", first_contacts=3, appointments=1, not_eligible=2),
        FunnelRow(association_id="secours-catholique", region="hauts-de-france", first_contacts=16, appointments=4, oriented=5,
                  not_eligible=7, opened=2, submitted=1),
    ]

    total = funnel(date(2026, 3, 1), date(2026, 3, 31), rows).total

    assert (total.first_contacts, total.appointments, total.oriented, total.not_eligible) == (19, 5, 5, 9)
    assert (total.opened, total.submitted, total.routed) == (2, 1, 0)
