"""The loans stream (key: loan id): disbursement, payments, delinquency, adjustments, write-off, closure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.common import Cents, FileOwnership
from shared.events.envelope import Envelope, Payload
from shared.events.personal import Sealable
from shared.events.topics import Topics


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
    reason: Sealable[str] = Field(description="The counsellor's account of the borrower's situation.")
    requested_by: str
    application_id: UUID | None = Field(None, description="The loan's file: whose data key seals the reason (v1 addition).")


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
