"""Servicing HTTP API, adjustments: counsellors preview and ask, the lending bank answers; the schedule's versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from services.servicing import domain, repository, usecases
from services.servicing.api.common import Context
from shared.http import PAGED, TOTAL_COUNT, PageQuery
from shared.auth import AssociationStaff, AssociationStaffOrBank, PartnerBank
from shared.openapi import problems

router = APIRouter(tags=["adjustments"])


class AdjustmentView(domain.Adjustment):
    """An adjustment; on its request, what it would come to if the bank accepted it that day."""

    preview: domain.Preview | None = None


class PreviewRequest(BaseModel):
    """The terms a counsellor considers asking for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: domain.Terms


class AdjustmentPreview(BaseModel):
    """What an adjustment would come to if the bank accepted it today, and the schedule it would make."""

    preview: domain.Preview
    lines: list[domain.Instalment] = Field(
        description="The whole new schedule, oldest first: the lines already paid (a partly paid one cut down to what it received), then the new ones."
    )


class ScheduleVersionView(BaseModel):
    """One version of a loan's schedule, as it stood when it was replaced (the current one: as it stands)."""

    version: int
    adjustment_id: UUID | None
    created_at: datetime
    replaced_at: datetime | None
    current: bool
    lines: list[domain.Instalment]


@router.get(
    "/loans/{loan_id}/adjustments", response_model=list[AdjustmentView], summary="List a loan's adjustments", responses=PAGED
)
async def list_adjustments(
    loan_id: UUID, principal: AssociationStaffOrBank, ctx: Context, page: PageQuery, response: Response
) -> list[AdjustmentView]:
    """Requests and answers, oldest first."""
    await usecases.visible_loan(ctx.pool, principal, loan_id)
    adjustments, total = await repository.adjustments(ctx.pool, loan_id, limit=page.limit, offset=page.offset)
    response.headers[TOTAL_COUNT] = str(total)
    return [AdjustmentView(**a.model_dump()) for a in adjustments]


@router.post(
    "/loans/{loan_id}/adjustments",
    response_model=AdjustmentView,
    status_code=201,
    summary="Ask the bank for an adjustment",
    responses=problems(409),
)
async def request_adjustment(
    loan_id: UUID, body: domain.AdjustmentRequest, principal: AssociationStaff, ctx: Context
) -> AdjustmentView:
    """A pause (`months`, `with_interest`), an extension (`months`) or a lower instalment (`instalment_cents`);
    one open request per loan (`adjustment requested`)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        adjustment, figures = await usecases.request_adjustment(
            conn, principal, loan_id, body, adjustment_id=uuid4(), today=ctx.clock.today(), now=ctx.clock.now()
        )
    return AdjustmentView(**adjustment.model_dump(), preview=figures)


@router.post(
    "/loans/{loan_id}/adjustment-preview",
    response_model=AdjustmentPreview,
    summary="Preview an adjustment",
    responses=problems(409),
)
async def preview_adjustment(
    loan_id: UUID, body: PreviewRequest, principal: AssociationStaff, ctx: Context
) -> AdjustmentPreview:
    """The figures and the new schedule the terms would make if the bank accepted them today, before asking:
    nothing is recorded, no event is published. Terms the loan cannot take are refused as a request would be."""
    async with ctx.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        figures, lines = await usecases.preview_adjustment(conn, principal, loan_id, body.terms, today=ctx.clock.today())
    return AdjustmentPreview(preview=figures, lines=list(lines))


@router.post(
    "/loans/{loan_id}/adjustments/{adjustment_id}/answer",
    response_model=AdjustmentView,
    summary="Answer an adjustment",
    responses=problems(409),
)
async def answer_adjustment(
    loan_id: UUID, adjustment_id: UUID, body: domain.AdjustmentAnswer, principal: PartnerBank, ctx: Context
) -> AdjustmentView:
    """Accepted: a new schedule version (`loan rescheduled`); refused, with a reason: `adjustment refused`."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        answered = await usecases.answer_adjustment(
            conn, principal, loan_id, adjustment_id, body, today=ctx.clock.today(), now=ctx.clock.now()
        )
    return AdjustmentView(**answered.model_dump())


@router.get(
    "/loans/{loan_id}/schedule-versions",
    response_model=list[ScheduleVersionView],
    summary="A loan's schedule history",
    responses=PAGED,
)
async def schedule_versions(
    loan_id: UUID, principal: AssociationStaffOrBank, ctx: Context, page: PageQuery, response: Response
) -> list[ScheduleVersionView]:
    """Every version of the schedule, oldest first, the current one last."""
    loan = await usecases.visible_loan(ctx.pool, principal, loan_id)
    current = loan.schedule_version  # versions are numbered 1, 2, … current
    first, last = page.offset + 1, min(page.offset + page.limit, current)
    # One version beyond the page: when it was made is when the page's last one was replaced.
    versions: list[dict[str, Any]] = await repository.schedule_versions(ctx.pool, loan_id, first, last + 1)
    if first <= current <= last + 1:
        made_by, made_at = await repository.current_version_origin(ctx.pool, loan)
        lines = await repository.instalments(ctx.pool, loan_id) if current <= last else []
        versions.append({"version": current, "adjustment_id": made_by, "created_at": made_at, "lines": lines, "current": True})
    response.headers[TOTAL_COUNT] = str(current)
    following: list[dict[str, Any] | None] = [*versions[1:], None] if versions else []
    return [
        ScheduleVersionView(**{"current": False, **v}, replaced_at=after["created_at"] if after else None)
        for v, after in zip(versions, following, strict=True)
        if v["version"] <= last
    ]
