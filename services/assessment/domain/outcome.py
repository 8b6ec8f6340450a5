"""The counsellor's outcome (pure, no I/O): favourable routes the file to a partner bank, or unfavourable, or incomplete."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.assessment.domain.assessment import SOURCE, Assessment, Change, Policy, Status, require_status
from services.assessment.domain.checks import CheckName, LoanTerms, override, unresolved
from services.assessment.domain.review import review
from services.assessment.domain.terms import AmountCents, AnnualRate, DurationMonths
from shared.auth import Actor
from shared.clock import business_day
from shared.errors import BusinessRuleError
from shared.events import ApplicationAssessed, ApplicationRouted, new_event
from shared.events import ApplicationAssessedData, ApplicationRoutedData
from shared.fields import FreeText, Identifier
from shared.money import canonical_decimal

FICP_LAW = "Code de la consommation L.312-16"
Opinion = Annotated[FreeText, Field(min_length=1, max_length=4000, description="The counsellor's written opinion.")]
Justification = Annotated[FreeText, Field(min_length=1, max_length=2000)]


class UnfavourableReason(StrEnum):
    """Why a counsellor does not support the loan."""

    INSUFFICIENT_REMAINING = "insufficient_remaining"
    EXCESSIVE_INSTALMENT = "excessive_instalment"
    OVER_INDEBTEDNESS = "over_indebtedness"
    UNSTABLE_RESOURCES = "unstable_resources"
    PROJECT_NOT_ELIGIBLE = "project_not_eligible"
    PROJECT_NOT_VIABLE = "project_not_viable"
    FICP_REGISTERED = "ficp_registered"
    APPLICANT_NOT_READY = "applicant_not_ready"


class Orientation(StrEnum):
    """What is proposed instead of the loan."""

    SOCIAL_AID = "social_aid"
    BUDGET_COACHING = "budget_coaching"
    OVER_INDEBTEDNESS_FILE = "over_indebtedness_file"


# Outcome-specific fields: the outcome each belongs to; all are required by it except the overrides.
_BELONGS_TO = {
    "bank_id": "favourable", "amount_cents": "favourable", "duration_months": "favourable", "annual_rate": "favourable",
    "overrides": "favourable", "reason_codes": "unfavourable", "orientation": "unfavourable", "missing_items": "incomplete",
}
_OPTIONAL = {"overrides"}


class Outcome(BaseModel):
    """The counsellor's outcome: favourable (terms, partner bank, overrides), unfavourable or incomplete."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Literal["favourable", "unfavourable", "incomplete"]
    opinion: Opinion
    bank_id: Identifier | None = Field(None, validate_default=True, description="Favourable: the partner bank.")
    amount_cents: AmountCents | None = Field(None, validate_default=True)
    duration_months: DurationMonths | None = Field(None, validate_default=True)
    annual_rate: AnnualRate | None = Field(None, validate_default=True)
    overrides: dict[CheckName, Justification] = Field(
        default_factory=dict, validate_default=True,
        description="Favourable: failed checks overridden, each with its written justification (never the usury cap).",
    )
    reason_codes: list[UnfavourableReason] = Field(default_factory=list, max_length=8, validate_default=True)
    orientation: Orientation | None = Field(None, validate_default=True, description="Unfavourable: proposed instead.")
    missing_items: list[Identifier] = Field(
        default_factory=list, max_length=30, validate_default=True, description="Incomplete: what the file lacks."
    )

    @field_validator(*_BELONGS_TO)
    @classmethod
    def _fits_the_outcome(cls, value: Any, info: ValidationInfo) -> Any:
        # A field validator (not a model one) so the error names the field.
        outcome, name = info.data.get("outcome"), info.field_name
        assert name is not None
        if outcome is None:
            return value
        given = value not in (None, [], {})
        if _BELONGS_TO[name] != outcome and given:
            raise ValueError(f"{name} is only for a {_BELONGS_TO[name]} outcome")
        if _BELONGS_TO[name] == outcome and not given and name not in _OPTIONAL:
            raise ValueError(f"{name} is required when the outcome is {outcome}")
        return value


def record_outcome(a: Assessment, outcome: Outcome, policy: Policy, actor: Actor, now: datetime) -> Change:
    """Record the counsellor's outcome; a favourable one routes the file to the partner bank."""
    require_status(a, {Status.PENDING_REVIEW}, field="outcome", doing="record an outcome")
    if outcome.outcome == "favourable":
        return _route(a, outcome, policy, actor, now)
    extra: dict[str, Any]
    if outcome.outcome == "unfavourable":
        status = Status.UNFAVOURABLE
        extra = {"reason_codes": [r.value for r in outcome.reason_codes], "orientation": outcome.orientation}
    else:
        status, extra = Status.INCOMPLETE, {"missing_items": list(outcome.missing_items)}
    updated = a.model_copy(update={
        "status": status, "outcome": outcome.outcome, "opinion": outcome.opinion, "assessed_by": actor.subject,
        "assessed_at": now, **extra,
    })
    entry = updated.audit(actor, "outcome_recorded", now, outcome=outcome.outcome, opinion=outcome.opinion, **extra)
    return Change(updated, (_assessed(updated, now),), (entry,))


def _route(a: Assessment, outcome: Outcome, policy: Policy, actor: Actor, now: datetime) -> Change:
    """Favourable: a partner bank, the FICP consulted, every check passed or overridden; then routed."""
    assert outcome.bank_id and outcome.amount_cents and outcome.duration_months and outcome.annual_rate is not None
    if outcome.bank_id not in policy.partner_banks:
        partners = ", ".join(policy.partner_banks) or "none"
        raise BusinessRuleError(
            f"{outcome.bank_id} is not an active partner bank of {a.association_id} in the directory (active partners: {partners})",
            field="bank_id", rule="partner_bank", status=422,
        )
    if a.ficp is None:
        raise BusinessRuleError(
            f"record the FICP consultation ({FICP_LAW}) before routing the file to a bank",
            field="ficp", rule="ficp_required",
        )
    terms = LoanTerms(outcome.amount_cents, outcome.duration_months, outcome.annual_rate)
    diagnostic, checks = review(a, terms, policy, business_day(now))
    checks = override(checks, outcome.overrides)
    if blocking := unresolved(checks):
        usury = any(c.name == CheckName.USURY_CAP for c in blocking)
        advice = "The usury cap cannot be overridden." if usury else "Adjust the terms or override with a justification."
        raise BusinessRuleError(
            "the file cannot be routed: " + " ".join(f"{c.name}: {c.reason}" for c in blocking) + " " + advice,
            field=f"checks.{blocking[0].name}", rule="check_failed", status=422,
        )
    routed = a.model_copy(update={
        "status": Status.ROUTED, "outcome": "favourable", "opinion": outcome.opinion, "assessed_by": actor.subject,
        "assessed_at": now, "routed_at": now, "bank_id": outcome.bank_id, "proposed_amount_cents": terms.amount_cents,
        "proposed_duration_months": terms.duration_months, "proposed_annual_rate": terms.annual_rate,
        "diagnostic": diagnostic, "checks": checks, "monthly_instalment_cents": diagnostic.monthly_instalment_cents,
        "remaining_after_instalment_cents": diagnostic.remaining_after_instalment_cents,
    })
    routed_event = new_event(
        ApplicationRouted, source=SOURCE, subject=str(a.application_id), time=now,
        data=ApplicationRoutedData(
            **a.ownership(), application_id=a.application_id, bank_id=outcome.bank_id,
            amount_cents=terms.amount_cents, duration_months=terms.duration_months, annual_rate=terms.annual_rate,
        ),
    )
    audit = (
        routed.audit(actor, "outcome_recorded", now, outcome="favourable", opinion=outcome.opinion,
                     amount_cents=terms.amount_cents, duration_months=terms.duration_months,
                     annual_rate=canonical_decimal(terms.annual_rate)),
        *(routed.audit(actor, "check_overridden", now, check=c.name, reason=c.reason, justification=c.justification)
          for c in checks if c.overridden),
        routed.audit(actor, "routed", now, bank_id=outcome.bank_id),
    )
    return Change(routed, (_assessed(routed, now), routed_event), audit)


def _assessed(a: Assessment, now: datetime) -> ApplicationAssessed:
    """`application assessed` with the diagnostic and the checks of the terms the outcome is about."""
    assert a.outcome in ("favourable", "unfavourable", "incomplete") and a.opinion is not None
    return new_event(
        ApplicationAssessed, source=SOURCE, subject=str(a.application_id), time=now,
        data=ApplicationAssessedData(
            **a.ownership(), application_id=a.application_id, outcome=a.outcome, diagnostic=a.diagnostic,
            opinion=a.opinion, bank_id=a.bank_id, proposed_amount_cents=a.proposed_amount_cents,
            proposed_duration_months=a.proposed_duration_months, proposed_annual_rate=a.proposed_annual_rate,
            checks=a.checks, reason_codes=a.reason_codes, orientation=a.orientation, missing_documents=a.missing_items,
        ),
    )
