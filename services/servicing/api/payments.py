"""Servicing HTTP API, payments: the lending bank records payments and reversals; readers list them."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from services.servicing import domain, repository, usecases
from services.servicing.api.common import Context
from shared.http import PAGED, TOTAL_COUNT, PageQuery
from shared.auth import AssociationStaffOrBank, PartnerBank
from shared.openapi import problems

router = APIRouter(tags=["payments"])


class PaymentView(domain.Payment):
    """A recorded payment, where its money went, and whether this request had already been made."""

    duplicate: bool = False


@router.get("/loans/{loan_id}/payments", response_model=list[PaymentView], summary="List a loan's payments", responses=PAGED)
async def list_payments(
    loan_id: UUID, principal: AssociationStaffOrBank, ctx: Context, page: PageQuery, response: Response
) -> list[PaymentView]:
    """Every payment with its allocation to the instalments (interest, principal, interest waived) and any reversal,
    in the order they were recorded."""
    await usecases.visible_loan(ctx.pool, principal, loan_id)
    payments, total = await repository.payments(ctx.pool, loan_id, limit=page.limit, offset=page.offset)
    response.headers[TOTAL_COUNT] = str(total)
    return [PaymentView(**p.model_dump()) for p in payments]


@router.post(
    "/loans/{loan_id}/payments",
    response_model=PaymentView,
    status_code=201,
    summary="Record a payment",
    responses={
        200: {"model": PaymentView, "description": "Already recorded under this bank reference: the payment as recorded."},
        **problems(409),
    },
)
async def record_payment(
    loan_id: UUID, body: domain.NewPayment, response: Response, principal: PartnerBank, ctx: Context
) -> PaymentView:
    """Due instalments oldest first, interest before principal; beyond: the next instalments, or the payoff that
    closes the loan (any excess recorded as over-paid). The same bank reference twice is recorded once (200)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        payment, duplicate = await usecases.record_payment(
            conn, principal, loan_id, body, today=ctx.clock.today(), now=ctx.clock.now()
        )
    if duplicate:
        response.status_code = 200
    return PaymentView(**payment.model_dump(), duplicate=duplicate)


@router.post(
    "/loans/{loan_id}/payments/{payment_id}/reversal",
    response_model=PaymentView,
    summary="Reverse a payment",
    responses=problems(409),
)
async def reverse_payment(
    loan_id: UUID, payment_id: UUID, body: domain.Reversal, principal: PartnerBank, ctx: Context
) -> PaymentView:
    """A direct debit rejected after the fact: what the payment paid is owed again (`payment reversed`). A payment
    already reversed stays as it is (`duplicate`: true); 409 when the ledger cannot take the reversal."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        payment, duplicate = await usecases.reverse_payment(conn, principal, loan_id, payment_id, body, now=ctx.clock.now())
    return PaymentView(**payment.model_dump(), duplicate=duplicate)
