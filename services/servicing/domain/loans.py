"""A loan from the bank's approval: its terms, its dated schedule, its disbursement (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from shared.clock import business_day
from shared.errors import BusinessRuleError
from shared.events import LoanApproved, LoanDisbursed, new_event
from shared.events import LoanDisbursedData
from shared.events.envelope import EventT, Payload
from shared.events.vocabulary import DelinquencyStage
from shared.loanmath import (
    ScheduledInstalment,
    add_months,
    amortisation_schedule,
    effective_annual_rate,
    schedule_cash_flows,
    taeg_of_loan,
)
from shared.fields import Day, FreeText, ShownRate

SOURCE = "/services/servicing"
# Loan ids derive from the application id, so re-applying an approval can never create a second loan.
LOAN_ID_NAMESPACE = UUID("6f1c5c1e-8f55-4c53-9d0b-2f4d3f0a9a11")


class LoanStatus(StrEnum):
    """Life cycle of a loan."""

    PENDING_DISBURSEMENT = "pending_disbursement"
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


class Instalment(BaseModel):
    """One line of the current schedule and what has been paid of it (its fields are the table's columns)."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(description="Never reused: a new schedule version numbers its lines after the old ones.")
    due_date: date
    principal_cents: int
    interest_cents: int
    amount_cents: int = Field(description="The instalment: principal + interest.")
    remaining_principal_cents: int = Field(description="Principal left after this line, as scheduled.")
    paid_cents: int = 0
    interest_paid_cents: int = 0
    principal_paid_cents: int = 0
    missed_on: date | None = Field(None, description="The business date the close of business found it missed.")

    @property
    def unpaid_cents(self) -> int:
        """What is still owed on this instalment."""
        return self.amount_cents - self.paid_cents

    @property
    def interest_unpaid_cents(self) -> int:
        """Interest of this instalment not paid yet."""
        return self.interest_cents - self.interest_paid_cents

    @property
    def principal_unpaid_cents(self) -> int:
        """Principal of this instalment not paid yet."""
        return self.principal_cents - self.principal_paid_cents


class Loan(BaseModel):
    """A loan as servicing holds it (its fields are the `loans` columns)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    application_id: UUID
    association_id: str
    region: str
    counsellor_id: str
    bank_id: str
    amount_cents: int
    annual_rate: ShownRate
    duration_months: int
    first_due_date: date
    guarantee_share: ShownRate
    status: LoanStatus
    payee: str | None = None
    disbursed_on: date | None = None
    created_at: datetime
    instalment_day: int | None = None
    schedule_version: int = 1
    principal_outstanding_cents: int
    days_past_due: int = 0
    delinquency_stage: DelinquencyStage = DelinquencyStage.CURRENT
    arrears_cents: int = 0
    closed_on: date | None = None
    written_off_on: date | None = None

    def ownership(self) -> dict[str, str]:
        """The ownership fields every event of this loan carries."""
        return {"association_id": self.association_id, "region": self.region, "counsellor_id": self.counsellor_id}

    @property
    def due_day(self) -> int:
        """The day of the month instalments fall due."""
        return self.instalment_day or self.first_due_date.day


def loan_event(event_cls: type[EventT], loan: Loan, now: datetime, data: Payload) -> EventT:
    """A servicing event about `loan`: from servicing, keyed by the loan's id, at `now` (every event servicing builds)."""
    return new_event(event_cls, source=SOURCE, subject=str(loan.id), time=now, data=data)


def loan_id_for(application_id: UUID) -> UUID:
    """The id of the loan created from an application's approval."""
    return uuid5(LOAN_ID_NAMESPACE, str(application_id))


def dated_schedule(
    principal_cents: int, annual_rate: Decimal, months: int, first_due_date: date, day: int
) -> list[ScheduledInstalment]:
    """The constant-instalment schedule of shared.loanmath: the first due date, then `day` of each following month."""
    return [
        line if line.number == 1 else dataclasses.replace(line, due_date=add_months(first_due_date, line.number - 1, day))
        for line in amortisation_schedule(principal_cents, annual_rate, months, first_due_date)
    ]


def open_loan(event: LoanApproved, now: datetime) -> tuple[Loan, list[ScheduledInstalment]]:
    """The loan and its schedule, from the bank's approval; it awaits disbursement."""
    d = event.data
    day = d.instalment_day or d.first_due_date.day
    loan = Loan(
        id=loan_id_for(d.application_id),
        application_id=d.application_id,
        association_id=d.association_id,
        region=d.region,
        counsellor_id=d.counsellor_id,
        bank_id=d.bank_id,
        amount_cents=d.amount_cents,
        annual_rate=d.annual_rate,
        duration_months=d.duration_months,
        first_due_date=d.first_due_date,
        guarantee_share=d.guarantee_share,
        status=LoanStatus.PENDING_DISBURSEMENT,
        payee=d.payee,
        created_at=now,
        instalment_day=day,
        principal_outstanding_cents=d.amount_cents,
    )
    return loan, dated_schedule(d.amount_cents, d.annual_rate, d.duration_months, d.first_due_date, day)


def as_instalments(schedule: Sequence[ScheduledInstalment], first_number: int = 1) -> list[Instalment]:
    """Schedule lines as unpaid instalments, numbered from `first_number`."""
    return [
        Instalment(
            number=first_number + line.number - 1,
            due_date=line.due_date,
            principal_cents=line.principal_cents,
            interest_cents=line.interest_cents,
            amount_cents=line.instalment_cents,
            remaining_principal_cents=line.remaining_principal_cents,
        )
        for line in schedule
    ]


class Disbursement(BaseModel):
    """The bank's confirmation that the funds went out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disbursed_on: Day
    payee: FreeText = Field(min_length=1, max_length=200, description="`borrower` or the supplier paid (garage, school…).")


def disburse(loan: Loan, cmd: Disbursement, now: datetime) -> tuple[Loan, LoanDisbursed]:
    """Activate a loan once its funds are out."""
    if loan.status is not LoanStatus.PENDING_DISBURSEMENT:
        raise BusinessRuleError(f"the loan is {loan.status.value}, not pending disbursement", field="disbursed_on", rule="state")
    if cmd.disbursed_on > business_day(now):
        raise BusinessRuleError("a disbursement cannot be in the future", field="disbursed_on", rule="not_future", status=422)
    if cmd.disbursed_on > loan.first_due_date:
        raise BusinessRuleError(
            f"the funds cannot go out after the first instalment is due ({loan.first_due_date})",
            field="disbursed_on", rule="after_first_due_date", status=422,
        )
    active = loan.model_copy(update={"status": LoanStatus.ACTIVE, "payee": cmd.payee, "disbursed_on": cmd.disbursed_on})
    event = loan_event(
        LoanDisbursed,
        loan,
        now,
        LoanDisbursedData(
            **loan.ownership(),
            loan_id=loan.id,
            application_id=loan.application_id,
            amount_cents=loan.amount_cents,
            disbursed_on=cmd.disbursed_on,
            payee=cmd.payee,
        ),
    )
    return active, event


def taeg(loan: Loan) -> Decimal | None:
    """The loan's TAEG from its original terms and dates (the approval date stands for a disbursement to come)."""
    drawn_on = loan.disbursed_on or loan.created_at.date()
    try:
        if loan.due_day == loan.first_due_date.day:
            return taeg_of_loan(loan.amount_cents, loan.annual_rate, loan.duration_months, drawn_on, loan.first_due_date)
        schedule = dated_schedule(loan.amount_cents, loan.annual_rate, loan.duration_months, loan.first_due_date, loan.due_day)
        return effective_annual_rate(schedule_cash_flows(loan.amount_cents, drawn_on, schedule))
    except ValueError:  # e.g. an approval dated after the first due date: no meaningful rate
        return None
