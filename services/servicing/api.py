"""Servicing HTTP API: loan views, disbursement and payments (banks), close of business (ops)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from services.servicing import domain, repository
from shared.auth import Principal, Role, require
from shared.http import not_found
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext, service_context

router = APIRouter(tags=["loans"])


class LoanView(domain.Loan):
    """A loan with its schedule."""

    schedule: list[domain.Instalment]


class PaymentView(BaseModel):
    """A recorded payment."""

    id: UUID
    bank_reference: str
    amount_cents: int
    received_on: date
    duplicate: bool


class CloseOfBusiness(BaseModel):
    """Run the close of business for one business date."""

    model_config = ConfigDict(extra="forbid")

    business_date: date


class CloseOfBusinessResult(BaseModel):
    """What one close-of-business run found."""

    business_date: date
    missed_instalments: int


async def _view(ctx: ServiceContext, loan: domain.Loan) -> LoanView:
    return LoanView(**loan.model_dump(), schedule=await repository.instalments(ctx.pool, loan.id))


def visible(principal: Principal, loan: domain.Loan) -> bool:
    """A bank sees its own loans; counsellors and supervisors their association's; ops none."""
    if principal.role is Role.BANK:
        return loan.bank_id == principal.bank_id
    return principal.is_member_of(loan.association_id)


def _found(principal: Principal, loan: domain.Loan | None, loan_id: UUID) -> domain.Loan:
    # Another's loan answers exactly like an unknown one: its existence is not disclosed.
    if loan is None or not visible(principal, loan):
        raise not_found("loan", loan_id)
    return loan


Reader = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR, Role.BANK))]
Bank = Annotated[Principal, Depends(require(Role.BANK))]
Ops = Annotated[Principal, Depends(require(Role.OPS))]


@router.get("/loans", response_model=list[LoanView], summary="Find loans by application")
async def find_loans(
    principal: Reader, application_id: UUID = Query(...), ctx: ServiceContext = Depends(service_context)
) -> list[LoanView]:
    """The loan created from an application's approval, if any (and if the caller may see it)."""
    loans = await repository.find_loans(ctx.pool, application_id)
    return [await _view(ctx, loan) for loan in loans if visible(principal, loan)]


@router.get("/loans/{loan_id}", response_model=LoanView, summary="Read a loan and its schedule")
async def get_loan(loan_id: UUID, principal: Reader, ctx: ServiceContext = Depends(service_context)) -> LoanView:
    """Terms, status and schedule with what is paid."""
    return await _view(ctx, _found(principal, await repository.get_loan(ctx.pool, loan_id), loan_id))


@router.post("/loans/{loan_id}/disbursement", response_model=LoanView, summary="Confirm the disbursement")
async def disburse(
    loan_id: UUID, body: domain.Disbursement, principal: Bank, ctx: ServiceContext = Depends(service_context)
) -> LoanView:
    """The bank confirms the funds went out; the loan becomes active (`loan disbursed`)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        loan = _found(principal, await repository.get_loan(conn, loan_id, for_update=True), loan_id)
        active, event = domain.disburse(loan, body, ctx.clock.now())
        await repository.set_status(conn, active)
        await add_to_outbox(conn, event)
    return await _view(ctx, active)


@router.post("/loans/{loan_id}/payments", response_model=PaymentView, status_code=201, summary="Record a payment")
async def record_payment(
    loan_id: UUID,
    body: domain.NewPayment,
    response: Response,
    principal: Bank,
    ctx: ServiceContext = Depends(service_context),
) -> PaymentView:
    """Apply a repayment to the oldest instalments; the same bank reference twice is recorded once."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        loan = _found(principal, await repository.get_loan(conn, loan_id, for_update=True), loan_id)
        existing = await repository.payment_by_reference(conn, loan_id, body.bank_reference)
        if existing is not None:
            response.status_code = 200
            return PaymentView(**dict(existing), duplicate=True)
        payment_id, event = domain.receive_payment(loan, body, ctx.clock.now())
        applied = domain.allocate(await repository.instalments(conn, loan_id), body.amount_cents)
        await repository.record_payment(
            conn, payment_id, loan_id, body.bank_reference, body.amount_cents, body.received_on, applied, ctx.clock.now()
        )
        await add_to_outbox(conn, event)
    return PaymentView(
        id=payment_id, bank_reference=body.bank_reference, amount_cents=body.amount_cents,
        received_on=body.received_on, duplicate=False,
    )


@router.post("/close-of-business", response_model=CloseOfBusinessResult, tags=["operations"], summary="Run the close of business")
async def close_of_business(
    body: CloseOfBusiness, _ops: Ops, ctx: ServiceContext = Depends(service_context)
) -> CloseOfBusinessResult:
    """Find instalments due and unpaid on `business_date`: `payment missed` once per instalment, whatever the runs."""
    now = ctx.clock.now()
    async with ctx.pool.acquire() as conn, conn.transaction():
        missed = await repository.mark_missed(conn, body.business_date)
        await add_to_outbox(conn, *(domain.payment_missed(m, body.business_date, now) for m in missed))
    return CloseOfBusinessResult(business_date=body.business_date, missed_instalments=len(missed))
