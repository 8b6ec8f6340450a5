"""The home page: what the person has to do today, by role."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.context import Context, SignedIn
from shared.auth import Role

router = APIRouter()


@router.get("/")
async def home(request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Counsellors and supervisors: open alerts, files in progress, loans followed; banks: the files routed to them and their loans."""
    values: dict[str, Any] = {}
    role = person.principal.role
    if role in (Role.COUNSELLOR, Role.SUPERVISOR):
        values["alerts"], values["files"], values["loans"] = await asyncio.gather(
            ctx.backends.call("notifications", "GET", "/alerts", person.token, params={"status": "open", "limit": 10}),
            ctx.backends.call("intake", "GET", "/applications", person.token, params={"limit": 20}),
            ctx.backends.call("servicing", "GET", "/loans", person.token, params={"limit": 10}),
        )
    elif role is Role.BANK:
        values["bank_files"], values["loans"] = await asyncio.gather(
            ctx.backends.call("assessment", "GET", "/bank/files", person.token, params={"limit": 20}),
            ctx.backends.call("servicing", "GET", "/loans", person.token, params={"limit": 10}),
        )
    for loan in values.get("loans", []):
        loan["next_due"] = next((line["due_date"] for line in loan["schedule"] if line["paid_cents"] < line["amount_cents"]), None)
    return ctx.render(request, "home.html", person, **values)
