"""The applications stream (key: application id): the file, its assessment, routing and the bank's answer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.common import Cents, FileOwnership, Rate
from shared.events.envelope import Envelope, Payload
from shared.events.personal import Sealable
from shared.events.topics import Topics


class Household(Payload):
    """Who lives on the budget: for the consumption units of the diagnostic."""

    adults: int = Field(ge=1, le=12)
    children_ages: list[int] = Field(default_factory=list, description="Ages in years of the children living in the home.")


class ProjectInfo(Payload):
    """What the loan pays for."""

    category: str = Field(description="Purpose category (see shared.events.vocabulary.Purpose).")
    description: str
    supplier: str | None = Field(None, description="Garage, training body, landlord…")
    quote_cents: Cents | None = None


class ApplicationFileData(FileOwnership):
    """The file as the counsellor built it. Fields after the totals were added within v1 (optional)."""

    application_id: UUID
    applicant_name: Sealable[str] = Field(description="Applicant's full name.")
    purpose: str = Field(description="Purpose category of the project (vehicle, housing, training…).")
    amount_cents: Cents
    duration_months: int = Field(ge=1)
    monthly_resources_cents: Sealable[Cents] = Field(description="Total of the monthly resources.")
    monthly_charges_cents: Sealable[Cents] = Field(description="Total of the monthly fixed charges.")
    branch_id: str | None = Field(None, description="The association's branch (antenne).")
    birth_date: Sealable[date | None] = None
    household: Sealable[Household | None] = None
    resources: Sealable[dict[str, Cents] | None] = Field(None, description="Monthly resources by kind (vocabulary.ResourceKind).")
    charges: Sealable[dict[str, Cents] | None] = Field(None, description="Monthly charges by kind (vocabulary.ChargeKind).")
    project: Sealable[ProjectInfo | None] = None
    referral_source: str | None = Field(None, description="vocabulary.ReferralSource")
    documents: dict[str, str] | None = Field(None, description="Checklist item → missing/received/verified/expired.")
    incomplete_reason: Sealable[str | None] = Field(None, description="Why the file was submitted with documents missing.")


class ApplicationSubmittedData(ApplicationFileData):
    """A counsellor submitted an application for a loan."""


class ApplicationSubmitted(Envelope[ApplicationSubmittedData]):
    """`application submitted` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.application.submitted.v1"] = "fr.microcredit.application.submitted.v1"


class ApplicationUpdatedData(ApplicationFileData):
    """A submitted file changed (documents received, figures corrected): the whole file as it is now."""

    changed_fields: list[str] = Field(default_factory=list)


class ApplicationUpdated(Envelope[ApplicationUpdatedData]):
    """`application updated` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.application.updated.v1"] = "fr.microcredit.application.updated.v1"


class ApplicationWithdrawnData(FileOwnership):
    """The applicant withdrew the file before the bank decided."""

    application_id: UUID
    reason: Sealable[str]
    withdrawn_by: str = Field(description="The counsellor who recorded the withdrawal.")


class ApplicationWithdrawn(Envelope[ApplicationWithdrawnData]):
    """`application withdrawn` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.application.withdrawn.v1"] = "fr.microcredit.application.withdrawn.v1"


class BudgetDiagnostic(Payload):
    """The budget diagnostic: resources − charges − proposed instalment. Fields after the first four: v1 additions."""

    monthly_resources_cents: Cents
    monthly_charges_cents: Cents
    monthly_instalment_cents: Cents
    remaining_after_instalment_cents: int = Field(description="Reste à vivre after the instalment (may be negative).")
    remaining_cents: int | None = Field(None, description="Reste à vivre before the instalment.")
    consumption_units: Decimal | None = Field(None, description="Modified OECD scale: 1 + 0.5 per other person ≥ 14 + 0.3 per child < 14.")
    remaining_per_unit_cents: int | None = None
    remaining_after_instalment_per_unit_cents: int | None = None
    instalment_share: Decimal | None = Field(None, description="Instalment ÷ resources, as a fraction.")


class CheckResult(Payload):
    """One eligibility check, its result and why."""

    name: str
    passed: bool
    reason: str
    overridden: bool = False
    justification: str | None = Field(None, description="The counsellor's written justification of an override.")


class ApplicationAssessedData(FileOwnership):
    """A counsellor recorded the assessment outcome."""

    application_id: UUID
    outcome: Literal["favourable", "unfavourable", "incomplete"]
    diagnostic: Sealable[BudgetDiagnostic]
    opinion: Sealable[str]
    bank_id: str | None = Field(None, description="Partner bank the file is routed to (favourable only).")
    proposed_amount_cents: Cents | None = None
    proposed_duration_months: int | None = None
    proposed_annual_rate: Rate | None = None
    checks: Sealable[list[CheckResult]] = Field(
        default_factory=list, description="The checks, their reasons and the overrides' justifications."
    )
    reason_codes: list[str] = Field(default_factory=list, description="Unfavourable: why.")
    orientation: Sealable[str | None] = Field(None, description="Unfavourable: what is proposed instead (social aid, budget coaching…).")
    missing_documents: list[str] = Field(default_factory=list, description="Incomplete: what the file lacks.")


class ApplicationAssessed(Envelope[ApplicationAssessedData]):
    """`application assessed` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.application.assessed.v1"] = "fr.microcredit.application.assessed.v1"


class ApplicationRoutedData(FileOwnership):
    """A favourable file was sent to a partner bank for its decision."""

    application_id: UUID
    bank_id: str
    amount_cents: Cents
    duration_months: int = Field(ge=1)
    annual_rate: Rate


class ApplicationRouted(Envelope[ApplicationRoutedData]):
    """`application routed to a bank` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.application.routed.v1"] = "fr.microcredit.application.routed.v1"


class BankDecisionOverdueData(FileOwnership):
    """A routed file has had no bank decision for too long."""

    application_id: UUID
    bank_id: str
    routed_on: date
    days_waiting: int = Field(ge=0)


class BankDecisionOverdue(Envelope[BankDecisionOverdueData]):
    """`bank decision overdue` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.bank.decision.overdue.v1"] = "fr.microcredit.bank.decision.overdue.v1"


class LoanApprovedData(FileOwnership):
    """The partner bank approved the loan; servicing creates it from these terms."""

    application_id: UUID
    bank_id: str
    amount_cents: Cents
    annual_rate: Rate
    duration_months: int = Field(ge=1)
    first_due_date: date
    guarantee_share: Decimal = Field(Decimal("0.5"), description="Fonds de cohésion sociale share (50 %).")
    instalment_day: int | None = Field(None, ge=1, le=31, description="Day of the month instalments fall due (v1 addition).")
    payee: str | None = Field(None, description="Who receives the funds: the borrower or a supplier (v1 addition).")


class LoanApproved(Envelope[LoanApprovedData]):
    """`loan approved` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.loan.approved.v1"] = "fr.microcredit.loan.approved.v1"


class LoanDeclinedData(FileOwnership):
    """The partner bank declined the loan."""

    application_id: UUID
    bank_id: str
    reason: str


class LoanDeclined(Envelope[LoanDeclinedData]):
    """`loan declined` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.loan.declined.v1"] = "fr.microcredit.loan.declined.v1"
