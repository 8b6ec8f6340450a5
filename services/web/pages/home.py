"""The home page: what the person has to do today, by role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.context import Context, SignedIn
from shared.auth import Role

router = APIRouter()


@router.get("/")
async def home(request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Counsellors and supervisors: open alerts and files in progress; banks: the files routed to them."""
    values: dict[str, Any] = {}
    role = person.principal.role
    if role in (Role.COUNSELLOR, Role.SUPERVISOR):
        values["alerts"] = await ctx.backends.call("notifications", "GET", "/alerts", person.token, params={"status": "open", "limit": 10})
        values["files"] = await ctx.backends.call("intake", "GET", "/applications", person.token, params={"limit": 20})
    elif role is Role.BANK:
        values["bank_files"] = await ctx.backends.call("assessment", "GET", "/bank/files", person.token, params={"limit": 20})
    return ctx.render(request, "home.html", person, **values)
