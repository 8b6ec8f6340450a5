"""Assessment domain: budget diagnostic, counsellor outcome and bank decision (pure, no I/O)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.errors import BusinessRuleError
from shared.events import ApplicationAssessed, ApplicationSubmitted, LoanApproved, LoanDeclined, new_event
from shared.events.catalog import (
    ApplicationAssessedData,
    BudgetDiagnostic,
    LoanApprovedData,
    LoanDeclinedData,
)
from shared.loanmath import monthly_instalment
from shared.text import FreeText, Identifier

SOURCE = "/services/assessment"
AnnualRate = Annotated[Decimal, Field(ge=0, le=Decimal("0.2"), max_digits=9, decimal_places=6)]
BankId = Identifier


class Status(StrEnum):
    """Where a file stands in assessment."""

    PENDING_REVIEW = "pending_review"
    FAVOURABLE = "favourable"
    UNFAVOURABLE = "unfavourable"
    APPROVED = "approved"
    DECLINED = "declined"


def diagnose(resources_cents: int, charges_cents: int, amount_cents: int, months: int, rate: Decimal) -> BudgetDiagnostic:
    """First diagnostic: what is left each month after charges and the proposed instalment."""
    instalment = monthly_instalment(amount_cents, rate, months)
    return BudgetDiagnostic(
        monthly_resources_cents=resources_cents,
        monthly_charges_cents=charges_cents,
        monthly_instalment_cents=instalment,
        remaining_after_instalment_cents=resources_cents - charges_cents - instalment,
    )


class Assessment(BaseModel):
    """The assessment of one application."""

    model_config = ConfigDict(frozen=True)

    application_id: UUID
    association_id: str
    region: str
    counsellor_id: str
    purpose: str
    requested_amount_cents: int
    requested_duration_months: int
    monthly_resources_cents: int
    monthly_charges_cents: int
    diagnostic_annual_rate: Decimal
    monthly_instalment_cents: int
    remaining_after_instalment_cents: int
    status: Status
    opinion: str | None = None
    bank_id: str | None = None
    proposed_amount_cents: int | None = None
    proposed_duration_months: int | None = None
    proposed_annual_rate: Decimal | None = None
    decision_reason: str | None = None
    received_at: datetime
    assessed_at: datetime | None = None
    decided_at: datetime | None = None

    def ownership(self) -> dict[str, str]:
        """The ownership fields every event of this file carries."""
        return {"association_id": self.association_id, "region": self.region, "counsellor_id": self.counsellor_id}


def open_assessment(event: ApplicationSubmitted, rate: Decimal, now: datetime) -> Assessment:
    """A submitted application enters the counsellor's review queue with its first diagnostic."""
    d = event.data
    diagnostic = diagnose(d.monthly_resources_cents, d.monthly_charges_cents, d.amount_cents, d.duration_months, rate)
    return Assessment(
        application_id=d.application_id,
        association_id=d.association_id,
        region=d.region,
        counsellor_id=d.counsellor_id,
        purpose=d.purpose,
        requested_amount_cents=d.amount_cents,
        requested_duration_months=d.duration_months,
        monthly_resources_cents=d.monthly_resources_cents,
        monthly_charges_cents=d.monthly_charges_cents,
        diagnostic_annual_rate=rate,
        monthly_instalment_cents=diagnostic.monthly_instalment_cents,
        remaining_after_instalment_cents=diagnostic.remaining_after_instalment_cents,
        status=Status.PENDING_REVIEW,
        received_at=now,
    )


class Outcome(BaseModel):
    """The counsellor's outcome; a favourable one proposes terms and a partner bank."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Literal["favourable", "unfavourable"]
    opinion: FreeText = Field(min_length=1, max_length=4000, description="The counsellor's written opinion.")
    bank_id: BankId | None = Field(None, validate_default=True, description="Partner bank to route to (favourable only).")
    amount_cents: int | None = Field(None, ge=300_00, le=8_000_00, validate_default=True)
    duration_months: int | None = Field(None, ge=6, le=84, validate_default=True)
    annual_rate: AnnualRate | None = Field(None, validate_default=True)

    @field_validator("bank_id", "amount_cents", "duration_months", "annual_rate")
    @classmethod
    def _favourable_needs_terms(cls, value: object, info: ValidationInfo) -> object:
        # A field validator (not a model one) so the error names the missing field.
        if value is None and info.data.get("outcome") == "favourable":
            raise ValueError(f"{info.field_name} is required when the outcome is favourable")
        return value


def record_outcome(a: Assessment, outcome: Outcome, now: datetime) -> tuple[Assessment, ApplicationAssessed]:
    """Record the counsellor's outcome; only a file pending review can be assessed."""
    if a.status is not Status.PENDING_REVIEW:
        raise BusinessRuleError(f"the file is {a.status.value}, not pending review", field="outcome", rule="state")
    favourable = outcome.outcome == "favourable"
    terms = (
        (outcome.amount_cents, outcome.duration_months, outcome.annual_rate)
        if favourable
        else (a.requested_amount_cents, a.requested_duration_months, a.diagnostic_annual_rate)
    )
    diagnostic = diagnose(a.monthly_resources_cents, a.monthly_charges_cents, *terms)  # type: ignore[arg-type]
    updated = a.model_copy(
        update={
            "status": Status.FAVOURABLE if favourable else Status.UNFAVOURABLE,
            "opinion": outcome.opinion,
            "bank_id": outcome.bank_id,
            "proposed_amount_cents": outcome.amount_cents,
            "proposed_duration_months": outcome.duration_months,
            "proposed_annual_rate": outcome.annual_rate,
            "assessed_at": now,
        }
    )
    event = new_event(
        ApplicationAssessed,
        source=SOURCE,
        subject=str(a.application_id),
        time=now,
        data=ApplicationAssessedData(
            **a.ownership(),
            application_id=a.application_id,
            outcome=outcome.outcome,
            diagnostic=diagnostic,
            opinion=outcome.opinion,
            bank_id=outcome.bank_id,
            proposed_amount_cents=outcome.amount_cents,
            proposed_duration_months=outcome.duration_months,
            proposed_annual_rate=outcome.annual_rate,
        ),
    )
    return updated, event


class BankDecision(BaseModel):
    """A partner bank's decision on a file routed to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Literal["approve", "decline"]
    bank_id: BankId
    amount_cents: int | None = Field(None, ge=300_00, le=8_000_00, validate_default=True)
    annual_rate: AnnualRate | None = Field(None, validate_default=True)
    duration_months: int | None = Field(None, ge=6, le=84, validate_default=True)
    first_due_date: date | None = Field(None, validate_default=True)
    reason: FreeText | None = Field(None, min_length=1, max_length=2000, validate_default=True)

    @field_validator("amount_cents", "annual_rate", "duration_months", "first_due_date", "reason")
    @classmethod
    def _complete(cls, value: object, info: ValidationInfo) -> object:
        decision = info.data.get("decision")
        needed = info.field_name != "reason" if decision == "approve" else info.field_name == "reason"
        if value is None and decision is not None and needed:
            raise ValueError(f"{info.field_name} is required to {decision}")
        return value


def record_bank_decision(
    a: Assessment, decision: BankDecision, now: datetime
) -> tuple[Assessment, LoanApproved | LoanDeclined]:
    """Record the decision of the bank the file was routed to."""
    if a.status is not Status.FAVOURABLE:
        raise BusinessRuleError(f"the file is {a.status.value}, not awaiting a bank decision", field="decision", rule="state")
    if decision.bank_id != a.bank_id:
        raise BusinessRuleError("the file is not routed to this bank", field="bank_id", rule="routed_bank", status=403)
    if decision.first_due_date is not None and decision.first_due_date <= now.date():
        raise BusinessRuleError("the first due date must be in the future", field="first_due_date", rule="future_date", status=422)
    approved = decision.decision == "approve"
    updated = a.model_copy(
        update={
            "status": Status.APPROVED if approved else Status.DECLINED,
            "decision_reason": decision.reason,
            "decided_at": now,
        }
    )
    event: LoanApproved | LoanDeclined
    if approved:
        event = new_event(
            LoanApproved,
            source=SOURCE,
            subject=str(a.application_id),
            time=now,
            data=LoanApprovedData(
                **a.ownership(),
                application_id=a.application_id,
                bank_id=decision.bank_id,
                amount_cents=decision.amount_cents,
                annual_rate=decision.annual_rate,
                duration_months=decision.duration_months,
                first_due_date=decision.first_due_date,
            ),
        )
    else:
        event = new_event(
            LoanDeclined,
            source=SOURCE,
            subject=str(a.application_id),
            time=now,
            data=LoanDeclinedData(
                **a.ownership(), application_id=a.application_id, bank_id=decision.bank_id, reason=decision.reason or ""
            ),
        )
    return updated, event
