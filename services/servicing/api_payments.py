"""Servicing HTTP API, payments: the lending bank records payments and reversals; readers list them."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Response

from services.servicing import domain, repository, usecases
from services.servicing.access import Bank, Reader, found
from shared.http import not_found
from shared.runtime import ServiceContext, service_context

router = APIRouter(tags=["payments"])


class PaymentView(domain.Payment):
    """A recorded payment, where its money went, and whether this request had already been made."""

    duplicate: bool = False


@router.get("/loans/{loan_id}/payments", response_model=list[PaymentView], summary="List a loan's payments")
async def list_payments(loan_id: UUID, principal: Reader, ctx: ServiceContext = Depends(service_context)) -> list[PaymentView]:
    """Every payment with its allocation to the instalments (interest, principal, interest waived) and any reversal."""
    found(principal, await repository.get_loan(ctx.pool, loan_id), loan_id)
    return [PaymentView(**p.model_dump()) for p in await repository.payments(ctx.pool, loan_id)]


@router.post("/loans/{loan_id}/payments", response_model=PaymentView, status_code=201, summary="Record a payment")
async def record_payment(
    loan_id: UUID, body: domain.NewPayment, response: Response, principal: Bank, ctx: ServiceContext = Depends(service_context)
) -> PaymentView:
    """Due instalments oldest first, interest before principal; beyond: the next instalments, or the payoff that
    closes the loan (any excess recorded as over-paid). The same bank reference twice is recorded once (200)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        loan = found(principal, await repository.get_loan(conn, loan_id, for_update=True), loan_id)
        payment, duplicate = await usecases.record_payment(conn, loan, body, today=ctx.clock.today(), now=ctx.clock.now())
    if duplicate:
        response.status_code = 200
    return PaymentView(**payment.model_dump(), duplicate=duplicate)


@router.post(
    "/loans/{loan_id}/payments/{payment_id}/reversal", response_model=PaymentView, summary="Reverse a payment"
)
async def reverse_payment(
    loan_id: UUID, payment_id: UUID, body: domain.Reversal, principal: Bank, ctx: ServiceContext = Depends(service_context)
) -> PaymentView:
    """A direct debit rejected after the fact: what the payment paid is owed again (`payment reversed`); once only (409)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        loan = found(principal, await repository.get_loan(conn, loan_id, for_update=True), loan_id)
        payment = await repository.payment_by_id(conn, loan_id, payment_id)
        if payment is None:
            raise not_found("payment", payment_id)
        reversed_payment = await usecases.reverse_payment(conn, loan, payment, body, now=ctx.clock.now())
    return PaymentView(**reversed_payment.model_dump())
