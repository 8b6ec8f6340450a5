"""The assessment of a submitted file: the budget diagnostic and its checks, the FICP consultation, the outcome.

The checks and their reasons are assessment's; the page shows them and lets the counsellor override a failed
one with a written justification inside the outcome (never the usury cap: assessment refuses it).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading, compact, euros_typed
from services.web.problems import path_errors

router = APIRouter()
OVERRIDABLE = ("remaining_per_unit", "instalment_share", "ficp", "purpose")


async def _partner_banks(ctx: WebContext, person: Person, association_id: str) -> dict[str, str]:
    """The association's partner banks, by id, with their names from the directory."""
    association = await ctx.backends.call("directory", "GET", f"/associations/{association_id}", person.token)
    banks = {b["bank_id"]: b["name"] for b in await ctx.backends.call("directory", "GET", "/banks", person.token, params={"limit": 500})}
    return {bank_id: banks.get(bank_id, bank_id) for bank_id in association.get("partner_banks", [])}


async def _page(
    request: Request, person: Person, ctx: WebContext, application_id: UUID, *, typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, status_code: int = 200,
) -> HTMLResponse:
    file = await ctx.backends.call("intake", "GET", f"/applications/{application_id}", person.token)
    try:
        review = await ctx.backends.call("assessment", "GET", f"/assessments/{application_id}", person.token)
    except BackendError as absent:
        if absent.status != 404:
            raise
        review = None  # submitted a moment ago: assessment has not received it yet
    banks = await _partner_banks(ctx, person, file["association_id"]) if review else {}
    if typed is None and review:
        typed = {
            "ficp.consulted_on": ctx.clock.now().astimezone(labels.PARIS).date().isoformat(),
            "amount_cents": euros_typed(review["requested_amount_cents"]), "duration_months": str(review["requested_duration_months"]),
            "annual_rate": labels.rate(review["diagnostic_annual_rate"]).removesuffix(" %").removesuffix("\u202f%"),
        }
        if len(banks) == 1:
            typed["bank_id"] = next(iter(banks))
    return ctx.render(
        request, "review.html", person, status_code=status_code, file=file, review=review, banks=banks,
        typed=typed or {}, errors=errors or {}, overridable=OVERRIDABLE,
    )


@router.get("/dossiers/{application_id}/instruction")
async def review_page(application_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """The diagnostic, the checks with their reasons, the FICP and outcome forms."""
    return await _page(request, person, ctx, application_id)


@router.post("/dossiers/{application_id}/ficp")
async def record_ficp(application_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """The day the register was consulted, what it said, the reference if the bank's tool gives one."""
    reading = Reading(form)
    body = compact({
        "consulted_on": reading.day("ficp.consulted_on"), "result": reading.text("ficp.result"),
        "reference": reading.text("ficp.reference"),
    })
    if not reading.errors:
        try:
            await ctx.backends.call("assessment", "POST", f"/assessments/{application_id}/ficp", person.token, body=body)
        except BackendError as refused:
            if refused.status not in (409, 422):
                raise
            reading.errors.update({f"ficp.{k}" if k else k: v for k, v in path_errors(refused).items()})
    if reading.errors:
        return await _page(request, person, ctx, application_id, typed=form, errors=reading.errors, status_code=422)
    return RedirectResponse(f"/dossiers/{application_id}/instruction#titre-avis", status_code=303)


def outcome_body(reading: Reading) -> dict[str, Any]:
    """Assessment's outcome from the form: only the fields of the chosen outcome."""
    outcome = reading.text("outcome")
    body: dict[str, Any] = {"outcome": outcome, "opinion": reading.text("opinion")}
    if outcome == "favourable":
        body.update({
            "bank_id": reading.text("bank_id"), "amount_cents": reading.cents("amount_cents"),
            "duration_months": reading.whole("duration_months"), "annual_rate": reading.rate("annual_rate"),
            "overrides": {name: text for name in OVERRIDABLE if (text := reading.text(f"overrides.{name}"))},
        })
    elif outcome == "unfavourable":
        body.update({
            "reason_codes": [code for code in labels.UNFAVOURABLE if reading.flag(f"reason_codes.{code}")],
            "orientation": reading.text("orientation"),
        })
    elif outcome == "incomplete":
        body["missing_items"] = [kind for kind in labels.DOCUMENT if reading.flag(f"missing_items.{kind}")]
    return compact(body)


def _outcome_errors(refused: BackendError) -> dict[str, str]:
    errors = path_errors(refused, renames={f"checks.{name}": f"overrides.{name}" for name in OVERRIDABLE})
    for error in refused.problem.get("errors", []):
        field, rule = str(error.get("field", "")), error.get("rule")
        if rule == "value_error":  # a field the chosen outcome needs was left empty
            errors[field.split(".")[0]] = "Ce champ est à remplir pour cet avis."
        if field == "checks.usury_cap":  # never overridden: the rate is what must change
            errors.pop(field, None)
            errors["annual_rate"] = "Le taux dépasse le taux d'usure : aucune dérogation n'est possible, changez le taux."
    return errors


@router.post("/dossiers/{application_id}/avis")
async def record_outcome(application_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Favourable (to the chosen partner bank), unfavourable (reasons, orientation) or incomplete (what is missing)."""
    reading = Reading(form)
    body = outcome_body(reading)
    if not reading.text("outcome"):
        reading.errors["outcome"] = "Choisissez un avis."
    if not reading.errors:
        try:
            await ctx.backends.call("assessment", "POST", f"/assessments/{application_id}/outcome", person.token, body=body)
        except BackendError as refused:
            if refused.status not in (409, 422):
                raise
            reading.errors.update(_outcome_errors(refused))
    if reading.errors:
        return await _page(request, person, ctx, application_id, typed=form, errors=reading.errors, status_code=422)
    return RedirectResponse(f"/dossiers/{application_id}/instruction", status_code=303)
