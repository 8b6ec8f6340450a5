"""Servicing HTTP API, close of business: ops run it for a business date."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from services.servicing import domain, usecases
from services.servicing.api.common import Context
from shared.auth import Ops
from shared.fields import Day

router = APIRouter(tags=["operations"])


class CloseOfBusiness(BaseModel):
    """Run the close of business for one business date."""

    model_config = ConfigDict(extra="forbid")

    business_date: Day


@router.post("/close-of-business", response_model=domain.CloseOfBusinessRun, summary="Run the close of business")
async def close_of_business(body: CloseOfBusiness, _ops: Ops, ctx: Context) -> domain.CloseOfBusinessRun:
    """Missed instalments, delinquency stages and write-offs of `business_date`, in chunks: run twice or resumed, no second effect."""
    return await usecases.close_business_day(
        ctx.pool, body.business_date, policy=domain.CobPolicy.of(ctx.settings), now=ctx.clock.now(), failpoints=ctx.failpoints
    )
