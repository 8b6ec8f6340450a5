"""A file, as intake keeps it: open it with the person in front of you, complete it, record the documents, submit it.

The form's field names are the paths of intake's body (`applicant.first_name`, `resources.salary`), so a refusal
from intake lands next to the field it names.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading, compact, euros_typed
from services.web.problems import MISSING_PART, path_errors

router = APIRouter()


def file_body(reading: Reading, *, with_documents: bool) -> dict[str, Any]:
    """Intake's body from the form: only what was typed (an empty field changes nothing)."""
    children = reading.text("household.children_ages")
    ages: list[int] = []
    if children:
        parts = [part.strip() for part in children.replace(";", ",").split(",") if part.strip()]
        if all(part.isdigit() for part in parts):
            ages = [int(part) for part in parts]
        else:
            reading.errors["household.children_ages"] = "Indiquez les âges séparés par des virgules, par exemple 4, 9."
    body: dict[str, Any] = {
        "applicant": {
            "first_name": reading.text("applicant.first_name"),
            "last_name": reading.text("applicant.last_name"),
            "birth_date": reading.day("applicant.birth_date"),
            "contact": {"phone": reading.text("applicant.contact.phone"), "email": reading.text("applicant.contact.email")},
            "address": {
                "street": reading.text("applicant.address.street"), "postcode": reading.text("applicant.address.postcode"),
                "city": reading.text("applicant.address.city"),
            },
            "over_indebted": reading.flag("applicant.over_indebted"),
        },
        "household": {"adults": reading.whole("household.adults"), "children_ages": ages},
        "resources": {kind: reading.cents(f"resources.{kind}") for kind in labels.RESOURCE},
        "charges": {kind: reading.cents(f"charges.{kind}") for kind in labels.CHARGE},
        "project": {
            "purpose": reading.text("project.purpose"), "description": reading.text("project.description"),
            "supplier": reading.text("project.supplier"), "quote_cents": reading.cents("project.quote_cents"),
        },
        "amount_cents": reading.cents("amount_cents"),
        "duration_months": reading.whole("duration_months"),
        "referral_source": reading.text("referral_source"),
    }
    if with_documents:
        body["documents"] = {kind: {"status": status} for kind in labels.DOCUMENT if (status := reading.text(f"documents.{kind}"))}
    kept = compact(body)
    if kept.get("household") and "adults" not in kept["household"]:
        reading.errors.setdefault("household.adults", "Indiquez le nombre d'adultes du foyer.")
    kept["applicant"] = kept.get("applicant", {})  # intake names what is missing
    kept["applicant"].setdefault("over_indebted", False)
    return kept


def typed_from(file: dict[str, Any]) -> dict[str, str]:
    """The form's fields filled with the file as it stands."""
    applicant = file["applicant"]
    contact, address = applicant.get("contact") or {}, applicant.get("address") or {}
    project, household = file.get("project") or {}, file.get("household") or {}
    typed = {
        "applicant.first_name": applicant["first_name"], "applicant.last_name": applicant["last_name"],
        "applicant.birth_date": applicant.get("birth_date") or "", "applicant.contact.phone": contact.get("phone") or "",
        "applicant.contact.email": contact.get("email") or "", "applicant.address.street": address.get("street") or "",
        "applicant.address.postcode": address.get("postcode") or "", "applicant.address.city": address.get("city") or "",
        "household.adults": str(household.get("adults", "")), "household.children_ages": ", ".join(str(a) for a in household.get("children_ages", [])),
        "project.purpose": project.get("purpose") or "", "project.description": project.get("description") or "",
        "project.supplier": project.get("supplier") or "", "project.quote_cents": euros_typed(project.get("quote_cents")),
        "amount_cents": euros_typed(file.get("amount_cents")), "duration_months": str(file.get("duration_months") or ""),
        "referral_source": file.get("referral_source") or "",
    }
    if applicant.get("over_indebted"):
        typed["applicant.over_indebted"] = "oui"
    typed.update({f"resources.{k}": euros_typed(v) for k, v in (file.get("resources") or {}).items()})
    typed.update({f"charges.{k}": euros_typed(v) for k, v in (file.get("charges") or {}).items()})
    typed.update({f"documents.{item['kind']}": item["status"] for item in file.get("checklist", [])})
    return typed


def _form(request: Request, person: Person, ctx: WebContext, *, file: dict[str, Any] | None, typed: dict[str, str],
          errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    return ctx.render(request, "file_form.html", person, status_code=status_code, file=file, typed=typed, errors=errors)


@router.get("/dossiers/nouveau")
async def new_file(request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """An empty file: the person's name is enough to open it, the rest can come later."""
    return _form(request, person, ctx, file=None, typed={}, errors={})


@router.post("/dossiers/nouveau")
async def open_file(request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Open the draft in intake; a refusal is shown next to its field and nothing is saved."""
    reading = Reading(form)
    body = file_body(reading, with_documents=False)
    if reading.errors:
        return _form(request, person, ctx, file=None, typed=form, errors=reading.errors, status_code=422)
    try:
        created = await ctx.backends.call("intake", "POST", "/applications", person.token, body=body, once=form.get("idempotency_key"))
    except BackendError as refused:
        if refused.status not in (409, 422):
            raise
        return _form(request, person, ctx, file=None, typed=form, errors=path_errors(refused), status_code=422)
    return RedirectResponse(f"/dossiers/{created['id']}", status_code=303)


@router.get("/dossiers/{application_id}/modifier")
async def edit_form(application_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """The file's form, filled with what it holds, with the documents checklist."""
    file = await ctx.backends.call("intake", "GET", f"/applications/{application_id}", person.token)
    return _form(request, person, ctx, file=file, typed=typed_from(file), errors={})


@router.post("/dossiers/{application_id}/modifier")
async def edit_file(application_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Save the changes in one request: all of them or none."""
    reading = Reading(form)
    body = file_body(reading, with_documents=True)
    if not reading.errors:
        try:
            await ctx.backends.call("intake", "PATCH", f"/applications/{application_id}", person.token, body=body)
        except BackendError as refused:
            if refused.status not in (409, 422):
                raise
            reading.errors.update(path_errors(refused))
    if reading.errors:  # the form again, around what was typed (the file for its checklist)
        file = await ctx.backends.call("intake", "GET", f"/applications/{application_id}", person.token)
        return _form(request, person, ctx, file=file, typed=form, errors=reading.errors, status_code=422)
    return RedirectResponse(f"/dossiers/{application_id}", status_code=303)


@router.get("/dossiers/{application_id}")
async def file_page(application_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Another association's file answers the same « introuvable » page as an unknown one (intake says 404)."""
    return await _file_page(request, person, ctx, application_id, typed={}, errors={})


async def _file_page(
    request: Request, person: Person, ctx: WebContext, application_id: UUID, *, typed: dict[str, str], errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    file, loans = await asyncio.gather(
        ctx.backends.call("intake", "GET", f"/applications/{application_id}", person.token),
        ctx.backends.call("servicing", "GET", "/loans", person.token, params={"application_id": str(application_id)}),
    )
    return ctx.render(request, "file.html", person, status_code=status_code, file=file, loans=loans, typed=typed, errors=errors)


@router.post("/dossiers/{application_id}/transmission")
async def submit_file(application_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Submit for assessment: with every required document, or with the reason some are still missing."""
    reason = Reading(form).text("incomplete_reason")
    try:
        await ctx.backends.call(
            "intake", "POST", f"/applications/{application_id}/submission", person.token,
            body={"incomplete_reason": reason} if reason else {},
        )
    except BackendError as refused:
        if refused.status not in (409, 422):
            raise
        errors = path_errors(refused, renames={"documents": "incomplete_reason"})
        for field, rule in [(str(e.get("field", "")), e.get("rule")) for e in refused.problem.get("errors", [])]:
            if rule == "required_for_submission":
                errors.pop(field, None)
                errors[""] = f"Avant de transmettre le dossier, complétez {MISSING_PART.get(field, 'le dossier')}."
        return await _file_page(request, person, ctx, application_id, typed=form, errors=errors, status_code=422)
    return RedirectResponse(f"/dossiers/{application_id}/instruction", status_code=303)
