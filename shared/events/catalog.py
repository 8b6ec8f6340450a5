"""One versioned pydantic model per event type, and the discriminated union consumers parse into."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from shared.events.envelope import Envelope, Payload
from shared.events.topics import Topics

Cents = Annotated[int, Field(ge=0, description="An amount in euro cents.")]
Rate = Annotated[
    Decimal, Field(ge=0, le=1, max_digits=9, decimal_places=6, description="Annual rate as a fraction (0.035 = 3.5 %).")
]


class FileOwnership(Payload):
    """Who follows the file: carried on every event so consumers can route and authorise."""

    association_id: str = Field(description="The accompanying association.")
    region: str = Field(description="The association branch's region (INSEE region code or name).")
    counsellor_id: str = Field(description="The counsellor who follows the borrower.")


# --- applications stream (key: application id) -------------------------------------------------


class ApplicationSubmittedData(FileOwnership):
    """A counsellor submitted an application for a loan."""

    application_id: UUID
    applicant_name: str = Field(description="Applicant's full name (internal topic only).")
    purpose: str = Field(description="Purpose category of the project (vehicle, housing, training…).")
    amount_cents: Cents
    duration_months: int = Field(ge=1)
    monthly_resources_cents: Cents
    monthly_charges_cents: Cents


class ApplicationSubmitted(Envelope[ApplicationSubmittedData]):
    """`application submitted` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.application.submitted.v1"] = "fr.microcredit.application.submitted.v1"


class BudgetDiagnostic(Payload):
    """The first budget diagnostic: resources − charges − proposed instalment."""

    monthly_resources_cents: Cents
    monthly_charges_cents: Cents
    monthly_instalment_cents: Cents
    remaining_after_instalment_cents: int = Field(description="Reste à vivre after the instalment (may be negative).")


class ApplicationAssessedData(FileOwnership):
    """A counsellor recorded the assessment outcome."""

    application_id: UUID
    outcome: Literal["favourable", "unfavourable"]
    diagnostic: BudgetDiagnostic
    opinion: str
    bank_id: str | None = Field(None, description="Partner bank the file is routed to (favourable only).")
    proposed_amount_cents: Cents | None = None
    proposed_duration_months: int | None = None
    proposed_annual_rate: Rate | None = None


class ApplicationAssessed(Envelope[ApplicationAssessedData]):
    """`application assessed` v1."""

    topic: ClassVar[str] = Topics.APPLICATIONS
    type: Literal["fr.microcredit.application.assessed.v1"] = "fr.microcredit.application.assessed.v1"


class LoanApprovedData(FileOwnership):
    """The partner bank approved the loan; servicing creates it from these terms."""

    application_id: UUID
    bank_id: str
    amount_cents: Cents
    annual_rate: Rate
    duration_months: int = Field(ge=1)
    first_due_date: date
    guarantee_share: Decimal = Field(Decimal("0.5"), description="Fonds de cohésion sociale share (50 %).")


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


# --- loans stream (key: loan id) -----------------------------------------------------------------


class LoanDisbursedData(FileOwnership):
    """The bank confirmed the disbursement; the loan is active."""

    loan_id: UUID
    application_id: UUID
    amount_cents: Cents
    disbursed_on: date
    payee: str = Field(description="Who received the funds: the borrower or a supplier.")


class LoanDisbursed(Envelope[LoanDisbursedData]):
    """`loan disbursed` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.loan.disbursed.v1"] = "fr.microcredit.loan.disbursed.v1"


class PaymentReceivedData(FileOwnership):
    """A repayment reached the loan."""

    loan_id: UUID
    payment_id: UUID
    bank_reference: str
    amount_cents: Cents
    received_on: date


class PaymentReceived(Envelope[PaymentReceivedData]):
    """`payment received` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.payment.received.v1"] = "fr.microcredit.payment.received.v1"


class PaymentMissedData(FileOwnership):
    """An instalment was due and is not fully paid at the close of business."""

    loan_id: UUID
    application_id: UUID
    instalment_number: int = Field(ge=1)
    due_date: date
    amount_due_cents: Cents
    amount_unpaid_cents: Cents
    business_date: date


class PaymentMissed(Envelope[PaymentMissedData]):
    """`payment missed` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.payment.missed.v1"] = "fr.microcredit.payment.missed.v1"


# --- alerts stream (key: alert id) ---------------------------------------------------------------


class CounsellorAlertRaisedData(FileOwnership):
    """An alert was raised for a counsellor."""

    alert_id: UUID
    cause_event_id: UUID = Field(description="The event that caused the alert (one alert per cause).")
    cause_type: str
    severity: Literal["info", "warning", "critical"]
    loan_id: UUID | None = None
    application_id: UUID | None = None
    message: str


class CounsellorAlertRaised(Envelope[CounsellorAlertRaisedData]):
    """`counsellor alert raised` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.alert.raised.v1"] = "fr.microcredit.alert.raised.v1"


EVENT_CLASSES: tuple[type[Envelope[Any]], ...] = (
    ApplicationSubmitted,
    ApplicationAssessed,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    PaymentReceived,
    PaymentMissed,
    CounsellorAlertRaised,
)
EVENT_TYPES: dict[str, type[Envelope[Any]]] = {c.event_type(): c for c in EVENT_CLASSES}

AnyEvent = Annotated[
    ApplicationSubmitted
    | ApplicationAssessed
    | LoanApproved
    | LoanDeclined
    | LoanDisbursed
    | PaymentReceived
    | PaymentMissed
    | CounsellorAlertRaised,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> Envelope[Any]:
    """Parse a structured CloudEvent into its typed model; raises pydantic.ValidationError."""
    return _ADAPTER.validate_json(raw)
