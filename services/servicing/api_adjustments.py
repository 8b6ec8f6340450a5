"""Servicing HTTP API, adjustments: counsellors ask, the lending bank answers; the schedule's versions."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.servicing import domain, repository, usecases
from services.servicing.access import Adviser, Bank, Reader, found
from shared.http import not_found
from shared.runtime import ServiceContext, service_context

router = APIRouter(tags=["adjustments"])


class AdjustmentView(domain.Adjustment):
    """An adjustment; on its request, what it would come to if the bank accepted it that day."""

    preview: domain.Preview | None = None


class ScheduleVersionView(BaseModel):
    """One version of a loan's schedule, as it stood when it was replaced (the current one: as it stands)."""

    version: int
    adjustment_id: UUID | None
    created_at: datetime
    replaced_at: datetime | None
    current: bool
    lines: list[domain.Instalment]


@router.get("/loans/{loan_id}/adjustments", response_model=list[AdjustmentView], summary="List a loan's adjustments")
async def list_adjustments(
    loan_id: UUID, principal: Reader, ctx: ServiceContext = Depends(service_context)
) -> list[AdjustmentView]:
    """Requests and answers, oldest first."""
    found(principal, await repository.get_loan(ctx.pool, loan_id), loan_id)
    return [AdjustmentView(**a.model_dump()) for a in await repository.adjustments(ctx.pool, loan_id)]


@router.post(
    "/loans/{loan_id}/adjustments", response_model=AdjustmentView, status_code=201, summary="Ask the bank for an adjustment"
)
async def request_adjustment(
    loan_id: UUID, body: domain.AdjustmentRequest, principal: Adviser, ctx: ServiceContext = Depends(service_context)
) -> AdjustmentView:
    """A pause (`months`, `with_interest`), an extension (`months`) or a lower instalment (`instalment_cents`);
    one open request per loan (`adjustment requested`)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        loan = found(principal, await repository.get_loan(conn, loan_id, for_update=True), loan_id)
        adjustment, figures = await usecases.request_adjustment(
            conn, loan, body, adjustment_id=uuid4(), requested_by=principal.subject,
            today=ctx.clock.today(), now=ctx.clock.now(),
        )
    return AdjustmentView(**adjustment.model_dump(), preview=figures)


@router.post(
    "/loans/{loan_id}/adjustments/{adjustment_id}/answer", response_model=AdjustmentView, summary="Answer an adjustment"
)
async def answer_adjustment(
    loan_id: UUID,
    adjustment_id: UUID,
    body: domain.AdjustmentAnswer,
    principal: Bank,
    ctx: ServiceContext = Depends(service_context),
) -> AdjustmentView:
    """Accepted: a new schedule version (`loan rescheduled`); refused, with a reason: `adjustment refused`."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        loan = found(principal, await repository.get_loan(conn, loan_id, for_update=True), loan_id)
        adjustment = await repository.get_adjustment(conn, loan_id, adjustment_id, for_update=True)
        if adjustment is None:
            raise not_found("adjustment", adjustment_id)
        answered = await usecases.answer_adjustment(
            conn, loan, adjustment, body, answered_by=principal.subject, today=ctx.clock.today(), now=ctx.clock.now()
        )
    return AdjustmentView(**answered.model_dump())


@router.get(
    "/loans/{loan_id}/schedule-versions", response_model=list[ScheduleVersionView], summary="A loan's schedule history"
)
async def schedule_versions(
    loan_id: UUID, principal: Reader, ctx: ServiceContext = Depends(service_context)
) -> list[ScheduleVersionView]:
    """Every version of the schedule, oldest first, the current one last."""
    loan = found(principal, await repository.get_loan(ctx.pool, loan_id), loan_id)
    past = await repository.schedule_versions(ctx.pool, loan_id)
    made_by, made_at = await repository.current_version_origin(ctx.pool, loan)
    versions = [
        *({**row, "current": False} for row in past),
        {"version": loan.schedule_version, "adjustment_id": made_by, "created_at": made_at, "current": True,
         "lines": await repository.instalments(ctx.pool, loan_id)},
    ]
    return [
        ScheduleVersionView(**v, replaced_at=following["created_at"] if following else None)
        for v, following in zip(versions, [*versions[1:], None], strict=True)
    ]
