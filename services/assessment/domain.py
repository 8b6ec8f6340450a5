"""Assessment domain: the file under review, its diagnostic and checks, the FICP consultation (pure, no I/O).

Every use returns a `Change`: the new state, the events to publish and the audit entries to keep.
The counsellor's outcome is in `outcome.py`, the bank's decision and the overdue timer in `decision.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.assessment.checks import FicpConsultation, FicpResult, LoanTerms, Thresholds, evaluate
from services.assessment.diagnostic import diagnose, total
from shared.errors import BusinessRuleError
from shared.events import Envelope
from shared.events import ApplicationFileData, BudgetDiagnostic, CheckResult, Household, ProjectInfo
from shared.fields import Reference
from shared.usury import UsuryTable

SOURCE = "/services/assessment"
AnnualRate = Annotated[Decimal, Field(ge=0, le=Decimal("0.2"), max_digits=9, decimal_places=6)]


class Status(StrEnum):
    """Where a file stands in assessment."""

    PENDING_REVIEW = "pending_review"
    INCOMPLETE = "incomplete"
    UNFAVOURABLE = "unfavourable"
    ROUTED = "routed"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Actor(BaseModel):
    """Who changed a file: a person from their token, or a system (`role` "system")."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: str



class AuditEntry(BaseModel):
    """One change of state: what, who, when, with its particulars."""

    model_config = ConfigDict(frozen=True)

    application_id: UUID
    at: datetime
    actor: str
    actor_role: str
    action: str
    details: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """What an association network decides with: diagnostic rate, thresholds, partner banks, usury caps."""

    diagnostic_annual_rate: Decimal
    thresholds: Thresholds
    partner_banks: tuple[str, ...]
    usury: UsuryTable


class Assessment(BaseModel):
    """The assessment of one application: the file, its diagnostic and checks, the outcome and the bank's decision."""

    model_config = ConfigDict(frozen=True)

    application_id: UUID
    association_id: str
    region: str
    counsellor_id: str
    branch_id: str | None = None
    applicant_name: str | None = None
    birth_date: date | None = None
    purpose: str
    project: ProjectInfo | None = None
    referral_source: str | None = None
    documents: dict[str, str] | None = None
    incomplete_reason: str | None = None
    household: Household | None = None
    resources: dict[str, int] | None = None
    charges: dict[str, int] | None = None
    requested_amount_cents: int
    requested_duration_months: int
    monthly_resources_cents: int
    monthly_charges_cents: int
    diagnostic_annual_rate: Decimal
    monthly_instalment_cents: int
    remaining_after_instalment_cents: int
    diagnostic: BudgetDiagnostic
    checks: list[CheckResult] = Field(default_factory=list)
    ficp: FicpConsultation | None = None
    status: Status
    outcome: str | None = None
    opinion: str | None = None
    reason_codes: list[str] = Field(default_factory=list)
    orientation: str | None = None
    missing_items: list[str] = Field(default_factory=list)
    assessed_by: str | None = None
    bank_id: str | None = None
    proposed_amount_cents: int | None = None
    proposed_duration_months: int | None = None
    proposed_annual_rate: Decimal | None = None
    decision: str | None = None
    approved_amount_cents: int | None = None
    approved_annual_rate: Decimal | None = None
    approved_duration_months: int | None = None
    first_due_date: date | None = None
    guarantee_share: Decimal | None = None
    guaranteed_amount_cents: int | None = None
    decision_reason: str | None = None
    decided_by: str | None = None
    received_at: datetime
    assessed_at: datetime | None = None
    routed_at: datetime | None = None
    decided_at: datetime | None = None
    overdue_raised_at: datetime | None = None

    def ownership(self) -> dict[str, str]:
        """The ownership fields every event of this file carries."""
        return {"association_id": self.association_id, "region": self.region, "counsellor_id": self.counsellor_id}

    def requested_terms(self) -> LoanTerms:
        """The terms asked for, at the network's diagnostic rate."""
        return LoanTerms(self.requested_amount_cents, self.requested_duration_months, self.diagnostic_annual_rate)

    def audit(self, actor: Actor, action: str, now: datetime, **details: Any) -> AuditEntry:
        """An audit entry about this file."""
        return AuditEntry(
            application_id=self.application_id, at=now, actor=actor.id, actor_role=actor.role, action=action, details=details
        )


@dataclass(frozen=True)
class Change:
    """A decision of the domain: the file as it is now, the events to publish and what to keep in the audit."""

    assessment: Assessment
    events: tuple[Envelope[Any], ...] = ()
    audit: tuple[AuditEntry, ...] = ()


def require_status(a: Assessment, allowed: set[Status], *, field: str, doing: str) -> None:
    """Refuse (409) to act on a file that is not in one of the `allowed` states."""
    if a.status not in allowed:
        raise BusinessRuleError(f"cannot {doing}: the file is {a.status.value}", field=field, rule="state")


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
    diagnostic, checks = review(candidate, terms, policy, now.date())
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
        diagnostic, terms, purpose=data.purpose, ficp=None, thresholds=policy.thresholds, usury=policy.usury, on=now.date()
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

    consulted_on: date = Field(description="The day the register was consulted.")
    result: FicpResult
    reference: Reference | None = Field(None, description="The consultation's reference, if the bank's tool gives one.")


def record_ficp(a: Assessment, record: FicpRecord, policy: Policy, actor: Actor, now: datetime) -> Change:
    """Keep the FICP consultation (a newer one replaces it) and re-run the checks."""
    require_status(
        a, {Status.PENDING_REVIEW, Status.INCOMPLETE}, field="consulted_on", doing="record the FICP consultation"
    )
    if record.consulted_on > now.date():
        raise BusinessRuleError(
            "the FICP consultation cannot be dated in the future", field="consulted_on", rule="not_future", status=422
        )
    consultation = FicpConsultation(**record.model_dump(), recorded_by=actor.id, recorded_at=now)
    updated = _with_review(a, a.requested_terms(), policy, now, ficp=consultation)
    entry = updated.audit(
        actor, "ficp_recorded", now,
        consulted_on=record.consulted_on.isoformat(), result=record.result.value, reference=record.reference,
    )
    return Change(updated, audit=(entry,))
