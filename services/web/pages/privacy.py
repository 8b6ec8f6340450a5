"""The DPO's pages: find a person, export what every service holds (JSON, PDF), ask for erasure or restriction;
and the information notice counsellors hand the applicant (page and PDF).

The search goes through intake (the only service that holds the name with the file), the export through
each service's `GET /v1/privacy/subjects/{id}`, the requests through the privacy service, which says why
when the law forbids them (a 409 whose `legal_reason` the page shows as it is written).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading
from services.web.pdf import document_pdf
from services.web.privacy_export import applicant_name, export_document, export_json, gather
from shared.auth import Role
from shared.privacy.notice import notice
from shared.privacy.processing import rule_title

router = APIRouter()
NOTICE_READERS = (Role.COUNSELLOR, Role.SUPERVISOR, Role.DPO)


def _dpo_only(person: Person, ctx: WebContext, request: Request) -> HTMLResponse | None:
    return None if person.principal.role is Role.DPO else ctx.error_page(request, 403)


@router.get("/protection-des-donnees")
async def search(
    request: Request, person: SignedIn, ctx: Context, nom: str | None = Query(None), naissance: str | None = Query(None)
) -> HTMLResponse:
    """Search a person's files by name and/or birth date; each file is one data subject."""
    if refused := _dpo_only(person, ctx, request):
        return refused
    typed = {"nom": nom or "", "naissance": naissance or ""}
    reading = Reading(typed)
    birth = reading.day("naissance") if naissance else None
    errors = dict(reading.errors)
    found = None
    if (nom or naissance) and not errors:
        if nom and len(nom.strip()) < 2:
            errors["nom"] = "Tapez au moins deux lettres du nom."
        else:
            params = {k: v for k, v in {"name": (nom or "").strip() or None, "birth_date": birth}.items() if v}
            found = await ctx.backends.call("intake", "GET", "/v1/privacy/subjects", person.token, params=params)
    return ctx.render(request, "dpo_search.html", person, status_code=422 if errors else 200, typed=typed, errors=errors, found=found)


async def _ledger(ctx: WebContext, person: Person, application_id: UUID) -> tuple[dict[str, Any] | None, str | None]:
    """What the privacy service knows of the subject, or why it cannot say."""
    try:
        return await ctx.backends.call("privacy", "GET", f"/v1/subjects/{application_id}", person.token), None
    except BackendError as refused:
        if refused.status == 404:
            return None, "Le service de protection des données ne connaît pas encore ce dossier."
        if refused.status in (401, 403):
            raise
        return None, "Le service de protection des données ne répond pas : l'effacement et la limitation sont indisponibles pour le moment."


async def _subject_page(
    request: Request, person: Person, ctx: WebContext, application_id: UUID, *, status_code: int = 200, **said: Any
) -> HTMLResponse:
    records = await gather(ctx.backends, person.token, str(application_id))
    ledger, unavailable = await _ledger(ctx, person, application_id)
    document = export_document(str(application_id), records, at=ctx.clock.now(), by=person.principal.subject)
    return ctx.render(
        request, "dpo_subject.html", person, status_code=status_code, application_id=application_id, document=document,
        name=applicant_name(records), ledger=ledger, unavailable=unavailable, counts={s: sum(map(len, t.values())) for s, t in records.items()},
        rule_title=rule_title, **said,
    )


@router.get("/protection-des-donnees/{application_id}")
async def subject(request: Request, person: SignedIn, ctx: Context, application_id: UUID) -> HTMLResponse:
    """Everything the platform holds about one subject, service by service, with the exports and the requests."""
    if refused := _dpo_only(person, ctx, request):
        return refused
    return await _subject_page(request, person, ctx, application_id)


@router.get("/protection-des-donnees/{application_id}/export.json")
async def export_as_json(request: Request, person: SignedIn, ctx: Context, application_id: UUID) -> Response:
    """The export as a JSON file to download (the services' rows as they store them)."""
    if refused := _dpo_only(person, ctx, request):
        return refused
    records = await gather(ctx.backends, person.token, str(application_id))
    body = export_json(str(application_id), records, at=ctx.clock.now(), by=person.principal.subject)
    return Response(
        json.dumps(body, ensure_ascii=False, indent=2), media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="donnees-{application_id}.json"'},
    )


@router.get("/protection-des-donnees/{application_id}/export.pdf")
async def export_as_pdf(request: Request, person: SignedIn, ctx: Context, application_id: UUID) -> Response:
    """The export as a PDF in French, to hand the person."""
    if refused := _dpo_only(person, ctx, request):
        return refused
    records = await gather(ctx.backends, person.token, str(application_id))
    now = ctx.clock.now()
    document = export_document(str(application_id), records, at=now, by=person.principal.subject)
    return Response(
        document_pdf(document, made_at=now), media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="donnees-{application_id}.pdf"'},
    )


@router.post("/protection-des-donnees/{application_id}/effacement")
async def erase(request: Request, person: SignedIn, ctx: Context, form: CheckedForm, application_id: UUID) -> HTMLResponse:
    """Ask the privacy service to erase the subject; its refusal (an active loan) is shown with its legal reason."""
    if refused := _dpo_only(person, ctx, request):
        return refused
    try:
        done = await ctx.backends.call("privacy", "POST", f"/v1/subjects/{application_id}/erasure", person.token, body={})
    except BackendError as refusal:
        if refusal.status != 409:
            raise
        return await _subject_page(request, person, ctx, application_id, status_code=409, refusal=_reason(refusal.problem))
    return await _subject_page(request, person, ctx, application_id, done=_done("L'effacement a été fait.", done))


@router.post("/protection-des-donnees/{application_id}/limitation")
async def restrict(request: Request, person: SignedIn, ctx: Context, form: CheckedForm, application_id: UUID) -> HTMLResponse:
    """Restrict the processing of the subject's data (`limiter`), or lift the restriction (`lever`)."""
    if refused := _dpo_only(person, ctx, request):
        return refused
    lift = form.get("action") == "lever"
    try:
        done = await ctx.backends.call("privacy", "DELETE" if lift else "PUT", f"/v1/subjects/{application_id}/restriction", person.token, body=None if lift else {})
    except BackendError as refusal:
        if refusal.status != 409:
            raise
        return await _subject_page(request, person, ctx, application_id, status_code=409, refusal=_reason(refusal.problem))
    said = "La limitation du traitement est levée." if lift else "Le traitement des données de cette personne est limité."
    return await _subject_page(request, person, ctx, application_id, done=_done(said, done))


def _reason(problem: dict[str, Any]) -> str:
    """Why the privacy service refused: its legal reason, in French as the retention rules write it."""
    return str(problem.get("legal_reason") or problem.get("detail") or "La demande est refusée.")


def _done(said: str, answer: Any) -> str:
    """What the page says was done: ours, then the privacy service's own words when it gives them."""
    if isinstance(answer, dict) and answer.get("done"):
        return f"{said} {answer['done']}"
    return said


@router.get("/notice-information")
async def information_notice(request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """The notice to hand the applicant at the first appointment, as in force today."""
    if person.principal.role not in NOTICE_READERS:
        return ctx.error_page(request, 403)
    today = ctx.clock.now().astimezone(labels.PARIS).date()
    return ctx.render(request, "notice.html", person, document=notice(today), today=today)


@router.get("/notice-information.pdf")
async def information_notice_pdf(request: Request, person: SignedIn, ctx: Context) -> Response:
    """The same notice as a PDF, to print or send."""
    if person.principal.role not in NOTICE_READERS:
        return ctx.error_page(request, 403)
    now = ctx.clock.now()
    today: date = now.astimezone(labels.PARIS).date()
    return Response(
        document_pdf(notice(today), made_at=now), media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="notice-information-donnees-personnelles.pdf"'},
    )
