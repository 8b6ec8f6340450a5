"""The file's life under review (pure): intake's versions of it, the applicant's withdrawal, the FICP consultation.

`review` runs the diagnostic and the checks for some terms; the counsellor's outcome re-runs it on the
terms proposed (`outcome.py`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.assessment.domain.assessment import Assessment, Change, Policy, Status, require_status
from services.assessment.domain.checks import FicpConsultation, FicpResult, LoanTerms, evaluate
from services.assessment.domain.diagnostic import diagnose, total
from shared.auth import Actor
from shared.clock import business_day
from shared.errors import BusinessRuleError
from shared.events import ApplicationFileData, BudgetDiagnostic, CheckResult
from shared.fields import Day, Reference


def review(a: Assessment, terms: LoanTerms, policy: Policy, on: date) -> tuple[BudgetDiagnostic, list[CheckResult]]:
    """The diagnostic and the checks of the file for `terms`, on the day `on`."""
    diagnostic = diagnose(
        a.monthly_resources_cents, a.monthly_charges_cents, a.household,
        terms.amount_cents, terms.duration_months, terms.annual_rate,
    )
    checks = evaluate(
        diagnostic, terms, purpose=a.purpose, ficp=a.ficp, thresholds=policy.thresholds, usury=policy.usury, on=on
    )
    return diagnostic, checks


def _with_review(a: Assessment, terms: LoanTerms, policy: Policy, now: datetime, **changes: Any) -> Assessment:
    candidate = a.model_copy(update=changes)
    diagnostic, checks = review(candidate, terms, policy, business_day(now))
    return candidate.model_copy(
        update={
            "diagnostic": diagnostic,
            "checks": checks,
            "monthly_instalment_cents": diagnostic.monthly_instalment_cents,
            "remaining_after_instalment_cents": diagnostic.remaining_after_instalment_cents,
        }
    )


_FILE_FIELDS = {
    "association_id", "region", "counsellor_id", "branch_id", "applicant_name", "birth_date", "purpose",
    "referral_source", "documents", "incomplete_reason", "resources", "charges",
}
# What a later version of the file may not change: the file stays with its association.
_FIXED_FIELDS = {"association_id"}


def _file_fields(data: ApplicationFileData) -> dict[str, Any]:
    """The file as intake sent it; totals come from the breakdowns by kind when there are some."""
    return {
        **data.model_dump(include=_FILE_FIELDS),
        "project": data.project,
        "household": data.household,
        "requested_amount_cents": data.amount_cents,
        "requested_duration_months": data.duration_months,
        "monthly_resources_cents": total(data.resources, data.monthly_resources_cents),
        "monthly_charges_cents": total(data.charges, data.monthly_charges_cents),
    }


def open_file(data: ApplicationFileData, policy: Policy, actor: Actor, now: datetime) -> Change:
    """A submitted application enters the review queue with its diagnostic and checks at the requested terms."""
    fields = _file_fields(data)
    terms = LoanTerms(data.amount_cents, data.duration_months, policy.diagnostic_annual_rate)
    diagnostic = diagnose(
        fields["monthly_resources_cents"], fields["monthly_charges_cents"], data.household,
        terms.amount_cents, terms.duration_months, terms.annual_rate,
    )
    checks = evaluate(
        diagnostic, terms, purpose=data.purpose, ficp=None, thresholds=policy.thresholds, usury=policy.usury, on=business_day(now)
    )
    opened = Assessment(
        application_id=data.application_id,
        **fields,
        diagnostic_annual_rate=policy.diagnostic_annual_rate,
        monthly_instalment_cents=diagnostic.monthly_instalment_cents,
        remaining_after_instalment_cents=diagnostic.remaining_after_instalment_cents,
        diagnostic=diagnostic,
        checks=checks,
        status=Status.PENDING_REVIEW,
        received_at=now,
    )
    return Change(opened, audit=(opened.audit(actor, "file_received", now, status=opened.status.value),))


def update_file(
    a: Assessment, data: ApplicationFileData, changed: list[str], policy: Policy, actor: Actor, now: datetime
) -> Change | None:
    """Intake's new version of a file under review; an incomplete file returns to pending review. None: too late."""
    if a.status not in (Status.PENDING_REVIEW, Status.INCOMPLETE):
        return None
    fields = {k: v for k, v in _file_fields(data).items() if k not in _FIXED_FIELDS}
    terms = LoanTerms(data.amount_cents, data.duration_months, a.diagnostic_annual_rate)
    updated = _with_review(a, terms, policy, now, **fields, status=Status.PENDING_REVIEW, missing_items=[])
    entry = updated.audit(
        actor, "file_updated", now, changed_fields=changed, previous_status=a.status.value, status=updated.status.value
    )
    return Change(updated, audit=(entry,))


def withdraw(a: Assessment, reason: str, withdrawn_by: str, actor: Actor, now: datetime) -> Change | None:
    """The applicant withdrew before the bank decided; None when the file is already closed."""
    if a.status not in (Status.PENDING_REVIEW, Status.INCOMPLETE, Status.ROUTED):
        return None
    updated = a.model_copy(update={"status": Status.WITHDRAWN})
    entry = updated.audit(
        actor, "file_withdrawn", now, reason=reason, withdrawn_by=withdrawn_by, previous_status=a.status.value
    )
    return Change(updated, audit=(entry,))


class FicpRecord(BaseModel):
    """The counsellor's record of the FICP consultation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consulted_on: Day = Field(description="The day the register was consulted.")
    result: FicpResult
    reference: Reference | None = Field(None, description="The consultation's reference, if the bank's tool gives one.")


def record_ficp(a: Assessment, record: FicpRecord, policy: Policy, actor: Actor, now: datetime) -> Change:
    """Keep the FICP consultation (a newer one replaces it) and re-run the checks."""
    require_status(
        a, {Status.PENDING_REVIEW, Status.INCOMPLETE}, field="consulted_on", doing="record the FICP consultation"
    )
    if record.consulted_on > business_day(now):
        raise BusinessRuleError(
            "the FICP consultation cannot be dated in the future", field="consulted_on", rule="not_future", status=422
        )
    consultation = FicpConsultation(**record.model_dump(), recorded_by=actor.subject, recorded_at=now)
    updated = _with_review(a, a.requested_terms(), policy, now, ficp=consultation)
    entry = updated.audit(
        actor, "ficp_recorded", now,
        consulted_on=record.consulted_on.isoformat(), result=record.result.value, reference=record.reference,
    )
    return Change(updated, audit=(entry,))
