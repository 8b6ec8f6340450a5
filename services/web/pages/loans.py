"""A loan followed for years: its terms, where it stands, its chart and its schedule; what each role does on it.

Counsellors ask for a schedule adjustment after seeing the new schedule it would make; the lending bank
records the disbursement and the payments, and answers the adjustments.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.charts import loan_chart
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading, compact
from services.web.problems import path_errors
from shared.auth import Role

router = APIRouter()
KINDS = {"pause": "Une pause de quelques mois", "extension": "Allonger la durée", "lower_instalment": "Baisser la mensualité"}


async def _page(request: Request, person: Person, ctx: WebContext, loan_id: UUID, *, typed: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, preview: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    loan, payments, adjustments = await asyncio.gather(
        ctx.backends.call("servicing", "GET", f"/loans/{loan_id}", person.token),
        ctx.backends.call("servicing", "GET", f"/loans/{loan_id}/payments", person.token, params={"limit": 500}),
        ctx.backends.call("servicing", "GET", f"/loans/{loan_id}/adjustments", person.token, params={"limit": 100}),
    )
    today = ctx.clock.now().astimezone(labels.PARIS).date()
    return ctx.render(
        request, "loan.html", person, status_code=status_code, loan=loan, payments=payments, adjustments=adjustments,
        chart=loan_chart(loan["schedule"], today, labels.euros), today=today.isoformat(), typed=typed or {"received_on": today.isoformat(), "disbursed_on": today.isoformat()},
        errors=errors or {}, preview=preview, kinds=KINDS, is_bank=person.principal.role is Role.BANK,
    )


@router.get("/prets/{loan_id}")
async def loan_page(loan_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Another association's (or another bank's) loan answers « introuvable », as an unknown one."""
    return await _page(request, person, ctx, loan_id)


async def _act(request: Request, person: Person, ctx: WebContext, loan_id: UUID, form: dict[str, str], reading: Reading,
               path: str, body: dict[str, Any], anchor: str, renames: dict[str, str] | None = None) -> Response:
    """Send `body` to servicing unless the form could not be read; a refusal comes back next to its field."""
    if not reading.errors:
        try:
            await ctx.backends.call("servicing", "POST", path, person.token, body=body, once=form.get("idempotency_key"))
        except BackendError as refused:
            if refused.status not in (409, 422):
                raise
            reading.errors.update(path_errors(refused, renames))
    if reading.errors:
        return await _page(request, person, ctx, loan_id, typed=form, errors=reading.errors, status_code=422)
    return RedirectResponse(f"/prets/{loan_id}#{anchor}", status_code=303)


@router.post("/prets/{loan_id}/decaissement")
async def disburse(loan_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """The bank confirms the funds went out, on which day and to whom."""
    reading = Reading(form)
    body = compact({"disbursed_on": reading.day("disbursed_on"), "payee": reading.text("payee")})
    return await _act(request, person, ctx, loan_id, form, reading, f"/loans/{loan_id}/disbursement", body, "titre-situation")


@router.post("/prets/{loan_id}/paiements")
async def record_payment(loan_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """A repayment the bank received: its reference is recorded once."""
    reading = Reading(form)
    body = compact({
        "bank_reference": reading.text("bank_reference"), "amount_cents": reading.cents("payment_cents"),
        "received_on": reading.day("received_on"),
    })
    if "amount_cents" not in body and "payment_cents" not in reading.errors:
        reading.errors["payment_cents"] = "Ce champ est à remplir."
    return await _act(request, person, ctx, loan_id, form, reading, f"/loans/{loan_id}/payments", body, "titre-paiements",
                      {"amount_cents": "payment_cents"})


def _terms(reading: Reading) -> dict[str, Any]:
    kind = reading.text("terms.kind")
    if kind is None:
        reading.errors["terms.kind"] = "Choisissez le type d'aménagement."
    with_interest = reading.text("terms.with_interest")
    return compact({
        "kind": kind,
        "months": reading.whole("terms.months") if kind in ("pause", "extension") else None,
        "with_interest": {"oui": True, "non": False}.get(with_interest or "") if kind == "pause" else None,
        "instalment_cents": reading.cents("terms.instalment_cents") if kind == "lower_instalment" else None,
    })


@router.post("/prets/{loan_id}/amenagement/apercu")
async def preview_adjustment(loan_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """The schedule the adjustment would make if the bank accepted it today; nothing is sent or saved."""
    reading = Reading(form)
    terms = _terms(reading)
    preview = None
    if not reading.errors:
        try:
            preview = await ctx.backends.call("servicing", "POST", f"/loans/{loan_id}/adjustment-preview", person.token, body={"terms": terms})
        except BackendError as refused:
            if refused.status not in (409, 422):
                raise
            reading.errors.update(path_errors(refused))
    status = 200 if preview or request.headers.get("HX-Request") else 422
    return await _page(request, person, ctx, loan_id, typed=form, errors=reading.errors, preview=preview, status_code=status)


@router.post("/prets/{loan_id}/amenagement")
async def request_adjustment(loan_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Ask the lending bank for the adjustment, with the reason the borrower needs it."""
    reading = Reading(form)
    body = compact({"terms": _terms(reading), "reason": reading.text("reason")})
    return await _act(request, person, ctx, loan_id, form, reading, f"/loans/{loan_id}/adjustments", body, "titre-amenagements")


@router.post("/prets/{loan_id}/amenagements/{adjustment_id}/reponse")
async def answer_adjustment(loan_id: UUID, adjustment_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """The bank accepts (a new schedule version) or refuses with a reason."""
    reading = Reading(form)
    accept = reading.text(f"accept-{adjustment_id}")
    if accept not in ("oui", "non"):
        reading.errors[f"accept-{adjustment_id}"] = "Choisissez : accepter ou refuser."
    body = compact({"accept": accept == "oui", "reason": reading.text(f"reason-{adjustment_id}")})
    return await _act(request, person, ctx, loan_id, form, reading, f"/loans/{loan_id}/adjustments/{adjustment_id}/answer", body,
                      "titre-amenagements", {"reason": f"reason-{adjustment_id}", "accept": f"accept-{adjustment_id}"})
