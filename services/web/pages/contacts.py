"""A first contact, logged in a few seconds: who sent the person, and what came of it. No name is kept: it only
starts the association's funnel (intake counts it)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading, compact
from services.web.problems import path_errors

router = APIRouter()
OUTCOMES = {"appointment": "Un rendez-vous est fixé", "oriented": "Orientée vers une autre aide", "not_eligible": "Pas éligible"}
REASONS = {
    "over_indebted": "Surendettement", "no_repayment_capacity": "Pas de capacité de remboursement",
    "need_not_covered": "Besoin non couvert par le microcrédit", "other": "Autre raison",
}


async def _page(request: Request, person: Person, ctx: WebContext, *, typed: dict[str, str], errors: dict[str, str],
                saved: bool = False, status_code: int = 200) -> HTMLResponse:
    contacts = await ctx.backends.call("intake", "GET", "/contacts", person.token, params={"limit": 20})
    return ctx.render(request, "contacts.html", person, status_code=status_code, contacts=contacts, typed=typed, errors=errors,
                      saved=saved, outcomes=OUTCOMES, reasons=REASONS)


@router.get("/premiers-contacts")
async def contacts_page(request: Request, person: SignedIn, ctx: Context, enregistre: str | None = Query(None)) -> HTMLResponse:
    """The form, and the association's latest first contacts."""
    return await _page(request, person, ctx, typed={"outcome": "appointment"}, errors={}, saved=enregistre is not None)


@router.post("/premiers-contacts")
async def log_contact(request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Send only the fields of the chosen outcome; a refusal shows next to its field, nothing is saved."""
    reading = Reading(form)
    outcome = reading.text("outcome")
    body = compact({
        "referral_source": reading.text("referral_source"), "outcome": outcome,
        "appointment_on": reading.day("appointment_on") if outcome == "appointment" else None,
        "oriented_to": reading.text("oriented_to") if outcome == "oriented" else None,
        "reason": reading.text("reason") if outcome == "not_eligible" else None,
        "note": reading.text("note") if outcome == "not_eligible" else None,
    })
    for field, sentence in (("referral_source", "Indiquez qui a orienté la personne."), ("outcome", "Indiquez ce qui a été décidé.")):
        if field not in body:
            reading.errors.setdefault(field, sentence)
    if not reading.errors:
        try:
            await ctx.backends.call("intake", "POST", "/contacts", person.token, body=body, once=form.get("idempotency_key"))
        except BackendError as refused:
            if refused.status not in (403, 422):
                raise
            reading.errors.update(path_errors(refused))
    if reading.errors:
        return await _page(request, person, ctx, typed=form, errors=reading.errors, status_code=422)
    return RedirectResponse("/premiers-contacts?enregistre=1", status_code=303)
