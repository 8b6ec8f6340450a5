"""The alert inbox: filter; acknowledge, resolve with a note or put aside until a day, without reloading the page
(htmx) or with plain forms; a refused value is shown next to its field, with what was typed kept."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.problems import field_errors

router = APIRouter()
STATUSES = ("open", "acknowledged", "snoozed", "resolved")


@router.get("/alertes")
async def inbox(request: Request, person: SignedIn, ctx: Context, statut: str | None = Query(None)) -> HTMLResponse:
    """The person's alerts, newest first (a counsellor's own and the shared queue; a supervisor's association)."""
    return await _inbox(request, person, ctx, statut if statut in STATUSES else None)


async def _inbox(
    request: Request, person: Person, ctx: WebContext, chosen: str | None, status_code: int = 200, **row: Any
) -> HTMLResponse:
    params = {"limit": 50, **({"status": chosen} if chosen else {})}
    alerts = await ctx.backends.call("notifications", "GET", "/alerts", person.token, params=params)
    return ctx.render(request, "alerts.html", person, status_code=status_code, alerts=alerts, chosen=chosen, statuses=STATUSES, **row)


async def _act(request: Request, person: Person, ctx: WebContext, alert_id: UUID, action: str, body: Any, typed: dict[str, str]) -> Response:
    """Ask notifications; htmx gets the alert's row back, a plain form the inbox; a refusal shows next to its field."""
    try:
        alert = await ctx.backends.call("notifications", "POST", f"/alerts/{alert_id}/{action}", person.token, body=body)
    except BackendError as refused:
        if refused.status != 422:
            raise
        alert = await ctx.backends.call("notifications", "GET", f"/alerts/{alert_id}", person.token)
        row = {"errors": field_errors(refused), "typed": typed}
        if request.headers.get("HX-Request"):  # htmx swaps a 200 only: the row comes back with its problem
            return ctx.render(request, "_alert_row.html", person, alert=alert, **row)
        return await _inbox(request, person, ctx, None, status_code=422, refused_id=str(alert_id), **row)
    if request.headers.get("HX-Request"):
        return ctx.render(request, "_alert_row.html", person, alert=alert)
    return RedirectResponse("/alertes", status_code=303)


@router.post("/alertes/{alert_id}/prise-en-compte")
async def acknowledge(alert_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Take the alert in hand: it no longer escalates."""
    return await _act(request, person, ctx, alert_id, "acknowledgement", None, {})


@router.post("/alertes/{alert_id}/resolution")
async def resolve(alert_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Close the alert with a note of what was done."""
    note = form.get("note", "")
    return await _act(request, person, ctx, alert_id, "resolution", {"note": note}, {"note": note})


@router.post("/alertes/{alert_id}/report")
async def put_aside(alert_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Put the alert aside until a day (it comes back then, with a reminder)."""
    until = form.get("until", "")
    return await _act(request, person, ctx, alert_id, "snooze", {"until": until or None}, {"until": until})
