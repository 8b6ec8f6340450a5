"""First contacts: a person calls or is sent, the counsellor logs where they came from and what came of it (pure).

No name and no personal data: a first contact only feeds the funnel (data minimisation). Each outcome
takes its own fields, and only those: an appointment its optional date, an orientation the aid the
person was sent to, a person not eligible the reason (and an optional note).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.auth import Actor
from shared.clock import business_day
from shared.errors import BusinessRuleError
from shared.events.vocabulary import ReferralSource
from shared.fields import Day, FreeText, Identifier


class ContactOutcome(StrEnum):
    """What came of a first contact."""

    APPOINTMENT = "appointment"  # an appointment was set to build the file
    ORIENTED = "oriented"  # sent to another aid (FSL, CAF, a Point conseil budget…)
    NOT_ELIGIBLE = "not_eligible"  # a microcredit is not the answer


class NotEligibleReason(StrEnum):
    """Why a microcredit is not the answer for the person."""

    OVER_INDEBTED = "over_indebted"
    NO_REPAYMENT_CAPACITY = "no_repayment_capacity"
    NEED_NOT_COVERED = "need_not_covered"
    OTHER = "other"


# Per outcome: the fields it requires, and the fields it takes at all.
_REQUIRED: dict[ContactOutcome, frozenset[str]] = {
    ContactOutcome.APPOINTMENT: frozenset(),
    ContactOutcome.ORIENTED: frozenset({"oriented_to"}),
    ContactOutcome.NOT_ELIGIBLE: frozenset({"reason"}),
}
_ALLOWED: dict[ContactOutcome, frozenset[str]] = {
    ContactOutcome.APPOINTMENT: frozenset({"appointment_on"}),
    ContactOutcome.ORIENTED: frozenset({"oriented_to"}),
    ContactOutcome.NOT_ELIGIBLE: frozenset({"reason", "note"}),
}
OUTCOME_FIELDS = ("appointment_on", "oriented_to", "reason", "note")


class NewFirstContact(BaseModel):
    """A first contact as the counsellor logs it; which fields each outcome takes is checked by `check_contact`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    referral_source: ReferralSource = Field(description="Who sent the person.")
    outcome: ContactOutcome
    appointment_on: Day | None = Field(None, description="appointment: the day of the appointment, if set (not in the past).")
    oriented_to: FreeText | None = Field(
        None, min_length=1, max_length=100, description="oriented (required): the aid the person was sent to, e.g. \"FSL\".",
        examples=["aide de la CAF"],
    )
    reason: NotEligibleReason | None = Field(None, description="not_eligible (required): why.")
    note: FreeText | None = Field(
        None, min_length=1, max_length=500, description="not_eligible: a short note, without the person's name."
    )
    branch_id: Identifier | None = Field(None, description="The association's branch (antenne).")


class FirstContact(BaseModel):
    """A first contact as intake keeps it: counts for the funnel, nobody's name."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    association_id: str
    branch_id: str | None = None
    region: str
    referral_source: ReferralSource
    outcome: ContactOutcome
    appointment_on: date | None = None
    oriented_to: str | None = None
    reason: NotEligibleReason | None = None
    note: str | None = None
    counsellor_id: str = Field(description="Who logged it (the token's user name).")
    created_at: datetime = Field(description="When it was logged: the funnel counts it on this day in France.")


def _invalid(field: str, rule: str, detail: str) -> BusinessRuleError:
    return BusinessRuleError(detail, field=field, rule=rule, status=422)


def check_contact(contact: NewFirstContact, today: date) -> None:
    """Each outcome takes its own fields, and only those; an appointment is not set in the past."""
    for name in OUTCOME_FIELDS:
        given = getattr(contact, name) is not None
        if name in _REQUIRED[contact.outcome] and not given:
            raise _invalid(name, "required_for_outcome", f"a contact with outcome {contact.outcome.value} needs `{name}`")
        if name not in _ALLOWED[contact.outcome] and given:
            raise _invalid(name, "not_for_outcome", f"a contact with outcome {contact.outcome.value} does not take `{name}`")
    if contact.oriented_to is not None and not contact.oriented_to.strip():
        raise _invalid("oriented_to", "blank", "say which aid the person was sent to")
    if contact.appointment_on is not None and contact.appointment_on < today:
        raise _invalid("appointment_on", "not_past", f"an appointment set today is not on a past day ({today} or later)")


def log_contact(
    contact: NewFirstContact, *, contact_id: UUID, association_id: str, region: str, actor: Actor, now: datetime
) -> FirstContact:
    """The first contact to store, in the actor's association and region, dated `now`."""
    check_contact(contact, business_day(now))
    return FirstContact(
        id=contact_id,
        association_id=association_id,
        branch_id=contact.branch_id,
        region=region,
        referral_source=contact.referral_source,
        outcome=contact.outcome,
        appointment_on=contact.appointment_on,
        oriented_to=contact.oriented_to.strip() if contact.oriented_to is not None else None,
        reason=contact.reason,
        note=contact.note,
        counsellor_id=actor.subject,
        created_at=now,
    )
