"""Servicing HTTP API, close of business: ops run it for a business date, and follow it and the past runs."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from services.servicing import domain, repository, usecases
from services.servicing.api.common import Context
from services.servicing.metrics import CloseOfBusinessMetrics
from shared.auth import Ops
from shared.fields import Day
from shared.http import PAGED, TOTAL_COUNT, PageQuery

router = APIRouter(tags=["operations"])


class CloseOfBusiness(BaseModel):
    """Run the close of business for one business date."""

    model_config = ConfigDict(extra="forbid")

    business_date: Day


@router.post("/close-of-business", response_model=domain.CloseOfBusinessRun, summary="Run the close of business")
async def close_of_business(body: CloseOfBusiness, _ops: Ops, ctx: Context) -> domain.CloseOfBusinessRun:
    """Missed instalments, delinquency stages and write-offs of `business_date`, in chunks: run twice or resumed, no second effect."""
    return await usecases.close_business_day(
        ctx.pool, body.business_date, policy=domain.CobPolicy.of(ctx.settings), now=ctx.clock.now(), failpoints=ctx.failpoints,
        observer=CloseOfBusinessMetrics.of(ctx.registry),
    )


@router.get(
    "/close-of-business", response_model=list[domain.RecordedRun], summary="List the close-of-business runs", responses=PAGED
)
async def list_runs(_ops: Ops, ctx: Context, page: PageQuery, response: Response) -> list[domain.RecordedRun]:
    """Every business date the close of business was run for, newest first, with where its last pass stands."""
    runs, total = await repository.cob_runs(ctx.pool, limit=page.limit, offset=page.offset)
    response.headers[TOTAL_COUNT] = str(total)
    return runs


@router.get(
    "/close-of-business/{business_date}", response_model=domain.RecordedRun, summary="Follow a close-of-business run"
)
async def get_run(business_date: Day, _ops: Ops, ctx: Context) -> domain.RecordedRun:
    """One business date's run: while it runs, its progress as of its last committed chunk
    (`loans_visited` of `loans_to_visit`); once finished, what it did."""
    return await usecases.recorded_run(ctx.pool, business_date)
