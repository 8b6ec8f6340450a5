"""Schedule adjustments, the counsellor's lever: a counsellor asks, the lending bank answers (pure).

An accepted adjustment makes a new schedule version (how: `rescheduling`); a refusal gives its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.servicing.domain.loans import Instalment, Loan, loan_event
from services.servicing.domain.rescheduling import Plan, Preview, Terms, plan, preview
from shared.errors import BusinessRuleError
from shared.events import AdjustmentRefused, AdjustmentRequested, LoanRescheduled
from shared.events import AdjustmentRefusedData, AdjustmentRequestedData, LoanRescheduledData
from shared.events.envelope import Envelope
from shared.fields import Flag, FreeText


class AdjustmentRequest(BaseModel):
    """A counsellor's request to adjust a loan's calendar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: Terms
    reason: FreeText = Field(min_length=1, max_length=1000, description="Why the borrower needs it (kept in the event).")


class AdjustmentAnswer(BaseModel):
    """The lending bank's answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accept: Flag
    reason: FreeText | None = Field(None, min_length=1, max_length=1000, description="Required to refuse.")


class Adjustment(BaseModel):
    """A requested adjustment and its answer (the `adjustments` row)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    loan_id: UUID
    kind: str
    terms: Terms
    reason: str
    requested_by: str
    requested_at: datetime
    status: Literal["requested", "accepted", "refused"] = "requested"
    answered_by: str | None = None
    answered_at: datetime | None = None
    answer_reason: str | None = None
    schedule_version: int | None = Field(None, description="Accepted: the schedule version it made.")


def request_adjustment(
    loan: Loan,
    instalments: Sequence[Instalment],
    body: AdjustmentRequest,
    *,
    adjustment_id: UUID,
    requested_by: str,
    open_request: Adjustment | None,
    today: date,
    now: datetime,
) -> tuple[Adjustment, Preview, AdjustmentRequested]:
    """Record a counsellor's request, once its terms are possible on the loan as it stands."""
    if open_request is not None:
        raise BusinessRuleError(
            f"adjustment {open_request.id} is still waiting for the bank's answer", field="terms", rule="open_request"
        )
    figures = preview(plan(loan, instalments, body.terms, today))
    adjustment = Adjustment(
        id=adjustment_id, loan_id=loan.id, kind=body.terms.kind, terms=body.terms, reason=body.reason,
        requested_by=requested_by, requested_at=now,
    )
    event = loan_event(
        AdjustmentRequested,
        loan,
        now,
        AdjustmentRequestedData(
            **loan.ownership(), loan_id=loan.id, adjustment_id=adjustment_id, terms=body.terms.contract(),
            reason=body.reason, requested_by=requested_by, application_id=loan.application_id,
        ),
    )
    return adjustment, figures, event


@dataclass(frozen=True)
class Answered:
    """The answered adjustment and its events; accepted: the loan at its new version and the plan of its lines."""

    adjustment: Adjustment
    events: tuple[Envelope[Any], ...]
    loan: Loan | None = None
    plan: Plan | None = None


def answer_adjustment(
    loan: Loan,
    instalments: Sequence[Instalment],
    adjustment: Adjustment,
    answer: AdjustmentAnswer,
    *,
    answered_by: str,
    today: date,
    now: datetime,
) -> Answered:
    """The bank's answer: a refusal with its reason, or a new schedule version."""
    if adjustment.status != "requested":
        raise BusinessRuleError(f"the adjustment was already {adjustment.status}", field="accept", rule="already_answered")
    answered = {"answered_by": answered_by, "answered_at": now, "answer_reason": answer.reason}
    if not answer.accept:
        if answer.reason is None:
            raise BusinessRuleError("a refusal must give its reason", field="reason", rule="required_to_refuse", status=422)
        event = loan_event(
            AdjustmentRefused,
            loan,
            now,
            AdjustmentRefusedData(**loan.ownership(), loan_id=loan.id, adjustment_id=adjustment.id, reason=answer.reason),
        )
        return Answered(adjustment=adjustment.model_copy(update={**answered, "status": "refused"}), events=(event,))
    new_plan = plan(loan, instalments, adjustment.terms, today)
    version = loan.schedule_version + 1
    figures = preview(new_plan)
    rescheduled = loan.model_copy(
        update={"schedule_version": version, "principal_outstanding_cents": figures.principal_outstanding_cents}
    )
    event = loan_event(
        LoanRescheduled,
        loan,
        now,
        LoanRescheduledData(
            **loan.ownership(),
            loan_id=loan.id,
            adjustment_id=adjustment.id,
            terms=adjustment.terms.contract(),
            schedule_version=version,
            principal_outstanding_cents=figures.principal_outstanding_cents,
            instalment_cents=figures.instalment_cents,
            remaining_instalments=figures.remaining_instalments,
            next_due_date=figures.next_due_date,
        ),
    )
    return Answered(
        adjustment=adjustment.model_copy(update={**answered, "status": "accepted", "schedule_version": version}),
        events=(event,),
        loan=rescheduled,
        plan=new_plan,
    )
