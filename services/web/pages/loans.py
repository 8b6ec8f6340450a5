"""A loan followed for years: its terms, where it stands, its chart and its schedule."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web import labels
from services.web.charts import loan_chart
from services.web.context import Context, SignedIn

router = APIRouter()


@router.get("/prets/{loan_id}")
async def loan_page(loan_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Another association's (or another bank's) loan answers « introuvable », as an unknown one."""
    loan = await ctx.backends.call("servicing", "GET", f"/loans/{loan_id}", person.token)
    today = ctx.clock.now().astimezone(labels.PARIS).date()
    return ctx.render(request, "loan.html", person, loan=loan, chart=loan_chart(loan["schedule"], today, labels.euros), today=today.isoformat())
