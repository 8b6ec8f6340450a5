"""What each reader is shown: the counsellor's queue, and the bank's file without the social diagnostic."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.assessment.checks import unresolved
from services.assessment.domain import Assessment, Status


class QueueItem(BaseModel):
    """One file in a review queue."""

    model_config = ConfigDict(frozen=True)

    application_id: UUID
    applicant_name: str | None
    counsellor_id: str
    purpose: str
    requested_amount_cents: int
    requested_duration_months: int
    status: Status
    received_at: datetime
    ficp_recorded: bool
    failed_checks: list[str] = Field(description="Checks that failed and were not overridden.")

    @classmethod
    def of(cls, a: Assessment) -> QueueItem:
        """The queue line of a file."""
        return cls(
            **a.model_dump(include={"application_id", "applicant_name", "counsellor_id", "purpose", "requested_amount_cents",
                                    "requested_duration_months", "status", "received_at"}),
            ficp_recorded=a.ficp is not None,
            failed_checks=[c.name for c in unresolved(a.checks)],
        )


class FileContact(BaseModel):
    """Who follows the file at the association."""

    association_id: str
    region: str
    branch_id: str | None
    counsellor_id: str
    contact: str | None = Field(description="The association's contact for partner banks.")


class BankDecisionView(BaseModel):
    """The bank's own decision on the file."""

    decision: str
    amount_cents: int | None
    annual_rate: Decimal | None
    duration_months: int | None
    first_due_date: date | None
    guarantee_share: Decimal | None
    guaranteed_amount_cents: int | None
    reason: str | None
    decided_at: datetime | None


class BankFile(BaseModel):
    """A file as its partner bank sees it: what a credit decision needs, and no social diagnostic."""

    model_config = ConfigDict(frozen=True)

    application_id: UUID
    applicant_name: str | None
    birth_date: date | None
    purpose: str
    amount_cents: int = Field(description="Proposed amount.")
    duration_months: int = Field(description="Proposed duration.")
    annual_rate: Decimal = Field(description="Proposed nominal annual rate.")
    status: Status
    routed_at: datetime
    association: FileContact
    decision: BankDecisionView | None

    @classmethod
    def of(cls, a: Assessment, contact: str | None) -> BankFile:
        """The bank's view of a routed file."""
        assert a.routed_at and a.proposed_amount_cents and a.proposed_duration_months and a.proposed_annual_rate is not None
        return cls(
            application_id=a.application_id, applicant_name=a.applicant_name, birth_date=a.birth_date, purpose=a.purpose,
            amount_cents=a.proposed_amount_cents, duration_months=a.proposed_duration_months,
            annual_rate=a.proposed_annual_rate,
            status=a.status, routed_at=a.routed_at,
            association=FileContact(association_id=a.association_id, region=a.region, branch_id=a.branch_id,
                                    counsellor_id=a.counsellor_id, contact=contact),
            decision=BankDecisionView(
                decision=a.decision, amount_cents=a.approved_amount_cents, annual_rate=a.approved_annual_rate,
                duration_months=a.approved_duration_months, first_due_date=a.first_due_date,
                guarantee_share=a.guarantee_share,
                guaranteed_amount_cents=a.guaranteed_amount_cents, reason=a.decision_reason, decided_at=a.decided_at,
            ) if a.decision else None,
        )
