"""Servicing HTTP API: loan views and disbursement; payments and adjustments (their own modules); close of business (ops)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.servicing import api_adjustments, api_payments, cob, domain, repository
from services.servicing.access import Bank, Ops, Reader, found, visible
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext, service_context

router = APIRouter(tags=["loans"])


class LoanView(domain.Loan):
    """A loan: its terms, where it stands, and its current schedule with what is paid of each line."""

    taeg: Decimal | None = Field(description="Effective annual rate of the original terms, as a fraction (0.0356 = 3.56 %).")
    payoff_cents: int = Field(description="What closes the loan today: principal outstanding + interest already due.")
    schedule: list[domain.Instalment]


class CloseOfBusiness(BaseModel):
    """Run the close of business for one business date."""

    model_config = ConfigDict(extra="forbid")

    business_date: date


async def _view(ctx: ServiceContext, loan: domain.Loan) -> LoanView:
    lines = await repository.instalments(ctx.pool, loan.id)
    payoff = domain.payoff_cents(lines, ctx.clock.today()) if loan.status is domain.LoanStatus.ACTIVE else 0
    return LoanView(**loan.model_dump(), taeg=domain.taeg(loan), payoff_cents=payoff, schedule=lines)


@router.get("/loans", response_model=list[LoanView], summary="Find loans by application")
async def find_loans(
    principal: Reader, application_id: UUID = Query(...), ctx: ServiceContext = Depends(service_context)
) -> list[LoanView]:
    """The loan created from an application's approval, if any (and if the caller may see it)."""
    loans = await repository.find_loans(ctx.pool, application_id)
    return [await _view(ctx, loan) for loan in loans if visible(principal, loan)]


@router.get("/loans/{loan_id}", response_model=LoanView, summary="Read a loan and its schedule")
async def get_loan(loan_id: UUID, principal: Reader, ctx: ServiceContext = Depends(service_context)) -> LoanView:
    """Terms, TAEG, status, arrears and delinquency (as of the last close of business), payoff, and the schedule."""
    return await _view(ctx, found(principal, await repository.get_loan(ctx.pool, loan_id), loan_id))


@router.post("/loans/{loan_id}/disbursement", response_model=LoanView, summary="Confirm the disbursement")
async def disburse(
    loan_id: UUID, body: domain.Disbursement, principal: Bank, ctx: ServiceContext = Depends(service_context)
) -> LoanView:
    """The bank confirms the funds went out and to whom; the loan becomes active (`loan disbursed`)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        loan = found(principal, await repository.get_loan(conn, loan_id, for_update=True), loan_id)
        active, event = domain.disburse(loan, body, ctx.clock.now())
        await repository.set_status(conn, active)
        await add_to_outbox(conn, event)
    return await _view(ctx, active)


router.include_router(api_payments.router)
router.include_router(api_adjustments.router)


@router.post("/close-of-business", response_model=cob.CloseOfBusinessRun, tags=["operations"], summary="Run the close of business")
async def close_of_business(
    body: CloseOfBusiness, _ops: Ops, ctx: ServiceContext = Depends(service_context)
) -> cob.CloseOfBusinessRun:
    """Missed instalments, delinquency stages and write-offs of `business_date`, in chunks: run twice or resumed, no second effect."""
    return await cob.close_business_day(
        ctx.pool, body.business_date, policy=cob.CobPolicy.of(ctx.settings), now=ctx.clock.now(), failpoints=ctx.failpoints
    )
