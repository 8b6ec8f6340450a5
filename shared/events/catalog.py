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
    applicant_name: str = Field(description="Applicant's full name (internal topic only).")
    purpose: str = Field(description="Purpose category of the project (vehicle, housing, training…).")
    amount_cents: Cents
    duration_months: int = Field(ge=1)
    monthly_resources_cents: Cents = Field(description="Total of the monthly resources.")
    monthly_charges_cents: Cents = Field(description="Total of the monthly fixed charges.")
    branch_id: str | None = Field(None, description="The association's branch (antenne).")
    birth_date: date | None = None
    household: Household | None = None
    resources: dict[str, Cents] | None = Field(None, description="Monthly resources by kind (vocabulary.ResourceKind).")
    charges: dict[str, Cents] | None = Field(None, description="Monthly charges by kind (vocabulary.ChargeKind).")
    project: ProjectInfo | None = None
    referral_source: str | None = Field(None, description="vocabulary.ReferralSource")
    documents: dict[str, str] | None = Field(None, description="Checklist item → missing/received/verified/expired.")
    incomplete_reason: str | None = Field(None, description="Why the file was submitted with documents missing.")


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
    reason: str
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
    diagnostic: BudgetDiagnostic
    opinion: str
    bank_id: str | None = Field(None, description="Partner bank the file is routed to (favourable only).")
    proposed_amount_cents: Cents | None = None
    proposed_duration_months: int | None = None
    proposed_annual_rate: Rate | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    reason_codes: list[str] = Field(default_factory=list, description="Unfavourable: why.")
    orientation: str | None = Field(None, description="Unfavourable: what is proposed instead (social aid, budget coaching…).")
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


# --- bank decisions stream, written by partner banks (key: application id) --------------------


class BankDecisionData(Payload):
    """A partner bank's decision on a file routed to it."""

    application_id: UUID
    bank_id: str
    decision: Literal["approve", "decline"]
    amount_cents: Cents | None = None
    annual_rate: Rate | None = None
    duration_months: int | None = Field(None, ge=1)
    first_due_date: date | None = None
    reason: str | None = None


class BankDecision(Envelope[BankDecisionData]):
    """`bank decision` v1, written by a partner bank to its reserved topic."""

    topic: ClassVar[str] = Topics.BANK_DECISIONS
    type: Literal["fr.microcredit.bank.decision.v1"] = "fr.microcredit.bank.decision.v1"


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
    interest_cents: Cents | None = Field(None, description="What went to interest (v1 addition).")
    principal_cents: Cents | None = Field(None, description="What went to principal (v1 addition).")
    overpaid_cents: Cents | None = Field(None, description="Beyond everything owed: to refund (v1 addition).")


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


class PaymentReversedData(FileOwnership):
    """A payment was reversed after the fact (a direct debit rejected): what it paid is owed again."""

    loan_id: UUID
    payment_id: UUID
    bank_reference: str
    amount_cents: Cents
    reason: str


class PaymentReversed(Envelope[PaymentReversedData]):
    """`payment reversed` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.payment.reversed.v1"] = "fr.microcredit.payment.reversed.v1"


class DelinquencyStageChangedData(FileOwnership):
    """The close of business moved a loan to another delinquency stage."""

    loan_id: UUID
    application_id: UUID
    previous_stage: str = Field(description="current, 1-30, 31-60, 61-90 or 90+ (days past due).")
    stage: str
    days_past_due: int = Field(ge=0)
    arrears_cents: Cents
    business_date: date


class DelinquencyStageChanged(Envelope[DelinquencyStageChangedData]):
    """`delinquency stage changed` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.loan.delinquency.changed.v1"] = "fr.microcredit.loan.delinquency.changed.v1"


class AdjustmentTerms(Payload):
    """What the counsellor asks for: a pause, a term extension, or a lower instalment over a longer term."""

    kind: Literal["pause", "extension", "lower_instalment"]
    months: int | None = Field(None, ge=1, description="Pause: instalments skipped; extension: months added.")
    with_interest: bool | None = Field(None, description="Pause: does interest run during the pause?")
    instalment_cents: Cents | None = Field(None, description="Lower instalment: the target instalment.")


class AdjustmentRequestedData(FileOwnership):
    """A counsellor asked the bank to adjust a loan's calendar."""

    loan_id: UUID
    adjustment_id: UUID
    terms: AdjustmentTerms
    reason: str
    requested_by: str


class AdjustmentRequested(Envelope[AdjustmentRequestedData]):
    """`adjustment requested` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.loan.adjustment.requested.v1"] = "fr.microcredit.loan.adjustment.requested.v1"


class AdjustmentRefusedData(FileOwnership):
    """The bank refused an adjustment."""

    loan_id: UUID
    adjustment_id: UUID
    reason: str


class AdjustmentRefused(Envelope[AdjustmentRefusedData]):
    """`adjustment refused` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.loan.adjustment.refused.v1"] = "fr.microcredit.loan.adjustment.refused.v1"


class LoanRescheduledData(FileOwnership):
    """The bank accepted an adjustment: a new schedule version, the outstanding principal unchanged."""

    loan_id: UUID
    adjustment_id: UUID
    terms: AdjustmentTerms
    schedule_version: int = Field(ge=2)
    principal_outstanding_cents: Cents
    instalment_cents: Cents = Field(description="The new regular instalment.")
    remaining_instalments: int = Field(ge=1)
    next_due_date: date


class LoanRescheduled(Envelope[LoanRescheduledData]):
    """`loan rescheduled` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.loan.rescheduled.v1"] = "fr.microcredit.loan.rescheduled.v1"


class LoanWrittenOffData(FileOwnership):
    """A loan too long past due was written off; the Fonds de cohésion sociale guarantee is claimed."""

    loan_id: UUID
    application_id: UUID
    principal_outstanding_cents: Cents
    days_past_due: int = Field(ge=0)
    guarantee_share: Decimal
    guarantee_claim_cents: Cents = Field(description="The FCS share of the principal outstanding.")
    business_date: date


class LoanWrittenOff(Envelope[LoanWrittenOffData]):
    """`loan written off` v1 (with the guarantee claim)."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.loan.written_off.v1"] = "fr.microcredit.loan.written_off.v1"


class LoanClosedData(FileOwnership):
    """Everything is paid: the loan is closed."""

    loan_id: UUID
    application_id: UUID
    closed_on: date
    reason: Literal["repaid", "early_repayment"]


class LoanClosed(Envelope[LoanClosedData]):
    """`loan closed` v1."""

    topic: ClassVar[str] = Topics.LOANS
    type: Literal["fr.microcredit.loan.closed.v1"] = "fr.microcredit.loan.closed.v1"


# --- bank payments stream, written by partner banks (key: loan id) ----------------------------


class BankPaymentData(Payload):
    """A repayment (or the reversal of one) as the partner bank reports it."""

    loan_id: UUID
    bank_id: str
    bank_reference: str = Field(description="The bank's own reference: the same reference twice is recorded once.")
    kind: Literal["payment", "reversal"] = "payment"
    amount_cents: Cents
    received_on: date
    reversed_reference: str | None = Field(None, description="Reversal: the reference of the payment it reverses.")
    reason: str | None = None


class BankPayment(Envelope[BankPaymentData]):
    """`bank payment` v1, written by a partner bank to its reserved topic."""

    topic: ClassVar[str] = Topics.BANK_PAYMENTS
    type: Literal["fr.microcredit.bank.payment.v1"] = "fr.microcredit.bank.payment.v1"


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


class AlertAcknowledgedData(FileOwnership):
    """Someone took an alert in hand: it stops escalating (the event's time is when)."""

    alert_id: UUID
    audience: Literal["counsellor", "association", "supervisor"] = Field(
        description="Who the alert is addressed to: its counsellor, the association's shared queue, or its supervisors."
    )
    acknowledged_by: str = Field(description="The counsellor or supervisor who acknowledged it.")
    loan_id: UUID | None = None
    application_id: UUID | None = None


class AlertAcknowledged(Envelope[AlertAcknowledgedData]):
    """`alert acknowledged` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.alert.acknowledged.v1"] = "fr.microcredit.alert.acknowledged.v1"


class AlertEscalatedData(FileOwnership):
    """An alert was raised for the association's supervisors: a loan going wrong, or a counsellor's alert left unacknowledged."""

    alert_id: UUID = Field(description="The supervisors' alert (its own id: one per cause and audience).")
    cause_event_id: UUID = Field(description="The event behind it (the same cause as the counsellor's alert, if any).")
    cause_type: str
    reason: Literal["consecutive_missed_instalments", "thirty_one_days_past_due", "not_acknowledged"]
    escalated_from_alert_id: UUID | None = Field(None, description="not_acknowledged: the counsellor's alert left unanswered.")
    severity: Literal["info", "warning", "critical"]
    loan_id: UUID | None = None
    application_id: UUID | None = None
    message: str


class AlertEscalated(Envelope[AlertEscalatedData]):
    """`alert escalated` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.alert.escalated.v1"] = "fr.microcredit.alert.escalated.v1"


class DeliveryFailedData(Payload):
    """An e-mail or a partner bank's webhook could not be delivered; a failing webhook subscription is paused."""

    alert_id: UUID = Field(
        description="E-mail: the alert that was not delivered; webhook: the incident raised for the bank's contact."
    )
    channel: Literal["email", "webhook"]
    delivery_id: UUID = Field(description="The last delivery that failed (stable across its retries).")
    attempts: int = Field(ge=1, description="Attempts of that delivery.")
    last_error: str = Field(description="The last SMTP reply, HTTP status or network error.")
    association_id: str | None = Field(None, description="E-mail: the association of the alert.")
    bank_id: str | None = Field(None, description="Webhook: the partner bank.")
    subscription_id: UUID | None = Field(None, description="Webhook: the subscription.")
    consecutive_failures: int | None = Field(None, ge=1, description="Webhook: failed attempts in a row.")
    subscription_paused: bool = Field(False, description="Webhook: the subscription was paused until the bank resumes it.")


class DeliveryFailed(Envelope[DeliveryFailedData]):
    """`delivery failed` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.delivery.failed.v1"] = "fr.microcredit.delivery.failed.v1"


EVENT_CLASSES: tuple[type[Envelope[Any]], ...] = (
    ApplicationSubmitted,
    ApplicationUpdated,
    ApplicationWithdrawn,
    ApplicationAssessed,
    ApplicationRouted,
    BankDecision,
    BankDecisionOverdue,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    PaymentReceived,
    PaymentReversed,
    PaymentMissed,
    DelinquencyStageChanged,
    AdjustmentRequested,
    AdjustmentRefused,
    LoanRescheduled,
    LoanWrittenOff,
    LoanClosed,
    BankPayment,
    CounsellorAlertRaised,
    AlertAcknowledged,
    AlertEscalated,
    DeliveryFailed,
)
EVENT_TYPES: dict[str, type[Envelope[Any]]] = {c.event_type(): c for c in EVENT_CLASSES}

AnyEvent = Annotated[
    ApplicationSubmitted
    | ApplicationUpdated
    | ApplicationWithdrawn
    | ApplicationAssessed
    | ApplicationRouted
    | BankDecision
    | BankDecisionOverdue
    | LoanApproved
    | LoanDeclined
    | LoanDisbursed
    | PaymentReceived
    | PaymentReversed
    | PaymentMissed
    | DelinquencyStageChanged
    | AdjustmentRequested
    | AdjustmentRefused
    | LoanRescheduled
    | LoanWrittenOff
    | LoanClosed
    | BankPayment
    | CounsellorAlertRaised
    | AlertAcknowledged
    | AlertEscalated
    | DeliveryFailed,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> Envelope[Any]:
    """Parse a structured CloudEvent into its typed model; raises pydantic.ValidationError."""
    return _ADAPTER.validate_json(raw)
