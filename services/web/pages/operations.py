"""Ops: run the close of business of a day and watch it go, chunk by chunk; the past runs.

Servicing runs the close of business in one long request and records its progress after each chunk of loans;
the workspace sends that request in the background, in the ops person's name, and the page reads the
progress every second (htmx) until the run is finished.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading
from shared.auth import Role

log = logging.getLogger(__name__)
router = APIRouter()


class Runs:
    """The close-of-business requests this workspace sent and are still under way, and why one failed."""

    def __init__(self) -> None:
        self.running: dict[date, asyncio.Task[None]] = {}
        self.failed: dict[date, str] = {}

    def start(self, ctx: WebContext, person: Person, day: date) -> None:
        """Send the run in the background (one at a time per day)."""
        self.running = {d: task for d, task in self.running.items() if not task.done()}
        if day in self.running:
            return
        self.failed.pop(day, None)
        self.running[day] = asyncio.create_task(self._run(ctx, person.token, day))

    async def _run(self, ctx: WebContext, token: str, day: date) -> None:
        try:
            await ctx.backends.call("servicing", "POST", "/close-of-business", token, body={"business_date": day.isoformat()})
        except BackendError as refused:
            log.warning("close of business of %s refused: %s", day, refused)
            self.failed[day] = "La clôture a été interrompue : le service des prêts ne répond pas ou l'a refusée. Relancez-la : elle reprend où elle s'est arrêtée."
        except Exception:  # noqa: BLE001 - the page must say it, whatever happened
            log.exception("close of business of %s failed", day)
            self.failed[day] = "La clôture a été interrompue. Relancez-la : elle reprend où elle s'est arrêtée."


def _runs(request: Request) -> Runs:
    return request.app.state.close_runs  # type: ignore[no-any-return]


def _ops_only(person: Person, ctx: WebContext, request: Request) -> HTMLResponse | None:
    return None if person.principal.role is Role.OPS else ctx.error_page(request, 403)


@router.get("/exploitation/cloture")
async def close_page(request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """The form to run a day, and the past runs."""
    if refused := _ops_only(person, ctx, request):
        return refused
    return await _close_page(request, person, ctx, typed={}, errors={})


async def _close_page(request: Request, person: Person, ctx: WebContext, *, typed: dict[str, str], errors: dict[str, str],
                      status_code: int = 200) -> HTMLResponse:
    runs = await ctx.backends.call("servicing", "GET", "/close-of-business", person.token, params={"limit": 30})
    today = ctx.clock.now().astimezone(labels.PARIS).date()
    return ctx.render(request, "close.html", person, status_code=status_code, runs=runs, typed=typed or {"business_date": today.isoformat()},
                      errors=errors)


@router.post("/exploitation/cloture")
async def run_close(request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Start the run of the chosen day and go to its progress."""
    if refused := _ops_only(person, ctx, request):
        return refused
    reading = Reading(form)
    day = reading.day("business_date")
    if day is None and not reading.errors:
        reading.errors["business_date"] = "Choisissez la journée à clôturer."
    if reading.errors or day is None:
        return await _close_page(request, person, ctx, typed=form, errors=reading.errors, status_code=422)
    _runs(request).start(ctx, person, date.fromisoformat(day))
    return RedirectResponse(f"/exploitation/cloture/{day}", status_code=303)


async def _run_view(request: Request, person: Person, ctx: WebContext, day: date) -> dict[str, object]:
    try:
        run = await ctx.backends.call("servicing", "GET", f"/close-of-business/{day.isoformat()}", person.token)
    except BackendError as absent:
        if absent.status != 404:
            raise
        run = None  # the request has not reached servicing yet
    runs = _runs(request)
    under_way = day in runs.running and not runs.running[day].done()
    return {"run": run, "day": day, "failure": runs.failed.get(day), "polling": (run is None or run["status"] != "finished") and (under_way or run is not None) and not runs.failed.get(day)}


@router.get("/exploitation/cloture/{day}")
async def run_page(day: date, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """One day's run: a progress bar that moves while it runs, then what it did."""
    if refused := _ops_only(person, ctx, request):
        return refused
    return ctx.render(request, "close_run.html", person, **await _run_view(request, person, ctx, day))


@router.get("/exploitation/cloture/{day}/progression")
async def run_progress(day: date, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """The progress fragment htmx fetches every second (it stops asking once the run is finished)."""
    if refused := _ops_only(person, ctx, request):
        return refused
    return ctx.render(request, "_close_progress.html", person, **await _run_view(request, person, ctx, day))


