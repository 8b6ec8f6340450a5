"""A file, as intake keeps it: the person, the household's budget, the project, the documents."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.context import Context, SignedIn

router = APIRouter()


@router.get("/dossiers/{application_id}")
async def file_page(application_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Another association's file answers the same « introuvable » page as an unknown one (intake says 404)."""
    file = await ctx.backends.call("intake", "GET", f"/applications/{application_id}", person.token)
    loans = await ctx.backends.call("servicing", "GET", "/loans", person.token, params={"application_id": str(application_id)})
    return ctx.render(request, "file.html", person, file=file, loans=loans)
