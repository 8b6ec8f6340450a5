"""Servicing HTTP API, loans: find one by application, read it with its schedule, confirm its disbursement."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import Field

from services.servicing import domain, repository, usecases
from services.servicing.api.common import Context
from shared.arrivals import Prefer
from shared.auth import AssociationStaffOrBank, PartnerBank, Role
from shared.fields import ShownRate
from shared.http import PAGED, TOTAL_COUNT, PageQuery
from shared.openapi import problems

router = APIRouter(tags=["loans"])


class LoanView(domain.Loan):
    """A loan: its terms, where it stands, and its current schedule with what is paid of each line."""

    taeg: ShownRate | None = Field(description="Effective annual rate of the original terms, as a fraction (0.0356 = 3.56 %).")
    payoff_cents: int = Field(description="What closes the loan today: principal outstanding + interest already due.")
    schedule: list[domain.Instalment]


async def _view(ctx: Context, loan: domain.Loan) -> LoanView:
    return _view_of(ctx, loan, await repository.instalments(ctx.pool, loan.id))


def _view_of(ctx: Context, loan: domain.Loan, lines: list[domain.Instalment]) -> LoanView:
    payoff = domain.payoff_cents(lines, ctx.clock.today()) if loan.status is domain.LoanStatus.ACTIVE else 0
    return LoanView(**loan.model_dump(), taeg=domain.taeg(loan), payoff_cents=payoff, schedule=lines)


@router.get("/loans", response_model=list[LoanView], summary="Find loans by application, or the loans the caller follows", responses=PAGED)
async def find_loans(
    principal: AssociationStaffOrBank, ctx: Context, page: PageQuery, response: Response,
    application_id: UUID | None = Query(None, description="The loan of this application, if the caller may see it."),
    prefer: Prefer = None,
) -> list[LoanView]:
    """With `application_id`: the loan created from its approval, if any (and if the caller may see it); with
    `Prefer: wait=N` too, answered as soon as servicing has opened it (an empty list after N s). Without: the
    loans the caller follows (a counsellor's own, a supervisor's association's, a bank's), those in arrears first."""
    if application_id is not None:
        async def read() -> list[domain.Loan] | None:
            return [loan for loan in await repository.find_loans(ctx.pool, application_id, limit=1, offset=0) if domain.visible(principal, loan)] or None

        found = await ctx.arrivals.honour(prefer, response, [str(application_id)], read) or []
        loans, total = found[page.offset:page.offset + page.limit], len(found)
    else:
        bank = principal.role is Role.BANK
        loans, total = await repository.followed_loans(
            ctx.pool, association_id=None if bank else principal.association_id or "",
            counsellor_id=principal.subject if principal.role is Role.COUNSELLOR else None,
            bank_id=principal.bank_id or "" if bank else None, limit=page.limit, offset=page.offset,
        )
    response.headers[TOTAL_COUNT] = str(total)
    lines = await repository.schedules(ctx.pool, [loan.id for loan in loans])
    return [_view_of(ctx, loan, lines[loan.id]) for loan in loans]


@router.get("/loans/{loan_id}", response_model=LoanView, summary="Read a loan and its schedule")
async def get_loan(loan_id: UUID, principal: AssociationStaffOrBank, ctx: Context) -> LoanView:
    """Terms, TAEG, status, arrears and delinquency (as of the last close of business), payoff, and the schedule."""
    return await _view(ctx, await usecases.visible_loan(ctx.pool, principal, loan_id))


@router.post(
    "/loans/{loan_id}/disbursement", response_model=LoanView, summary="Confirm the disbursement", responses=problems(409)
)
async def disburse(loan_id: UUID, body: domain.Disbursement, principal: PartnerBank, ctx: Context) -> LoanView:
    """The bank confirms the funds went out and to whom; the loan becomes active (`loan disbursed`)."""
    async with ctx.pool.acquire() as conn:  # one statement of its own, no transaction around it (`usecases.disburse`)
        active = await usecases.disburse(conn, principal, loan_id, body, now=ctx.clock.now())
    return await _view(ctx, active)
