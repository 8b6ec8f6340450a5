"""The assessment of one application as assessment keeps it, and what every decision returns: a `Change` (pure).

Every decision of the domain returns a `Change`: the new state, the events to publish and the audit
entries to keep. The file's life from intake's events and the FICP are in `review.py`, the counsellor's
outcome in `outcome.py`, the bank's decision and the overdue timer in `decision.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.assessment.domain.checks import FicpConsultation, LoanTerms, Thresholds
from shared.auth import Actor
from shared.errors import BusinessRuleError
from shared.events import BudgetDiagnostic, CheckResult, Envelope, Household, ProjectInfo
from shared.fields import ShownRate
from shared.usury import UsuryTable

SOURCE = "/services/assessment"

class Status(StrEnum):
    """Where a file stands in assessment."""

    PENDING_REVIEW = "pending_review"
    INCOMPLETE = "incomplete"
    UNFAVOURABLE = "unfavourable"
    ROUTED = "routed"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


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
class DirectoryTerms:
    """What the directory says of an association: its network's thresholds (None: the default) and active partner banks."""

    min_remaining_per_unit_cents: int | None = None
    max_instalment_share: Decimal | None = None
    partner_banks: tuple[str, ...] = ()


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
    diagnostic_annual_rate: ShownRate
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
    proposed_annual_rate: ShownRate | None = None
    decision: str | None = None
    approved_amount_cents: int | None = None
    approved_annual_rate: ShownRate | None = None
    approved_duration_months: int | None = None
    first_due_date: date | None = None
    guarantee_share: ShownRate | None = None
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
            application_id=self.application_id, at=now, actor=actor.subject, actor_role=actor.role, action=action, details=details
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


