"""A partner bank's officer: the files routed to the bank (never the social diagnostic) and the decision on each."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading, compact, euros_typed
from services.web.problems import path_errors

router = APIRouter()


async def _page(request: Request, person: Person, ctx: WebContext, application_id: UUID, *, typed: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    file = await ctx.backends.call("assessment", "GET", f"/bank/files/{application_id}", person.token)
    loans = []
    if file.get("decision") and file["decision"].get("decision") in ("approve", "approved"):
        loans = await ctx.backends.call("servicing", "GET", "/loans", person.token, params={"application_id": str(application_id)})
    if typed is None:
        typed = {
            "amount_cents": euros_typed(file["amount_cents"]), "duration_months": str(file["duration_months"]),
            "annual_rate": labels.rate(file["annual_rate"]).removesuffix("\u202f%").removesuffix(" %"),
        }
    return ctx.render(request, "bank_file.html", person, status_code=status_code, file=file, loans=loans, typed=typed, errors=errors or {})


@router.get("/banque/dossiers/{application_id}")
async def bank_file(application_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """What a credit decision needs; a file routed to another bank answers « introuvable »."""
    return await _page(request, person, ctx, application_id)


@router.post("/banque/dossiers/{application_id}/decision")
async def decide(application_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Approve with the final terms, or decline with a reason."""
    reading = Reading(form)
    decision = reading.text("decision")
    if decision == "approve":
        body = compact({
            "decision": "approve", "amount_cents": reading.cents("amount_cents"), "duration_months": reading.whole("duration_months"),
            "annual_rate": reading.rate("annual_rate"), "first_due_date": reading.day("first_due_date"),
        })
    elif decision == "decline":
        body = compact({"decision": "decline", "reason": reading.text("reason")})
    else:
        body = {}
        reading.errors["decision"] = "Choisissez : accorder ou refuser."
    if not reading.errors:
        try:
            await ctx.backends.call("assessment", "POST", f"/bank/files/{application_id}/decision", person.token, body=body)
        except BackendError as refused:
            if refused.status not in (409, 422):
                raise
            reading.errors.update(path_errors(refused))
            for error in refused.problem.get("errors", []):
                if error.get("rule") == "value_error":  # a field the decision needs was left empty
                    reading.errors[str(error.get("field"))] = "Ce champ est à remplir pour cette décision."
    if reading.errors:
        return await _page(request, person, ctx, application_id, typed=form, errors=reading.errors, status_code=422)
    return RedirectResponse(f"/banque/dossiers/{application_id}", status_code=303)
