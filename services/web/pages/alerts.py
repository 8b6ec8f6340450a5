"""The alert inbox: filter, acknowledge without reloading the page (htmx), or with a plain form."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.context import CheckedForm, Context, SignedIn

router = APIRouter()
STATUSES = ("open", "acknowledged", "snoozed", "resolved")


@router.get("/alertes")
async def inbox(request: Request, person: SignedIn, ctx: Context, statut: str | None = Query(None)) -> HTMLResponse:
    """The person's alerts, newest first (a counsellor's own and the shared queue; a supervisor's association)."""
    chosen = statut if statut in STATUSES else None
    params = {"limit": 50, **({"status": chosen} if chosen else {})}
    alerts = await ctx.backends.call("notifications", "GET", "/alerts", person.token, params=params)
    return ctx.render(request, "alerts.html", person, alerts=alerts, chosen=chosen, statuses=STATUSES)


@router.post("/alertes/{alert_id}/prise-en-compte")
async def acknowledge(alert_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Take the alert in hand; htmx gets the alert's row back, a plain form the inbox again."""
    alert = await ctx.backends.call("notifications", "POST", f"/alerts/{alert_id}/acknowledgement", person.token)
    if request.headers.get("HX-Request"):
        return ctx.render(request, "_alert_row.html", person, alert=alert)
    return RedirectResponse("/alertes", status_code=303)
