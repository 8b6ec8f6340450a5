"""A supervisor's view of the association: the review queue, the alerts escalated to supervisors, and the funnel
from the first contact to the approved loan per association and region, for the period chosen."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.web import labels
from services.web.backends import BackendError
from services.web.charts import FUNNEL_STEPS, funnel_chart
from services.web.context import Context, SignedIn
from services.web.forms import Reading
from services.web.problems import path_errors
from shared.auth import Role

router = APIRouter()


@router.get("/pilotage")
async def steering(
    request: Request, person: SignedIn, ctx: Context, du: str | None = Query(None), au: str | None = Query(None)
) -> HTMLResponse:
    """The period defaults to the current month up to today."""
    if person.principal.role not in (Role.SUPERVISOR, Role.OPS):
        return ctx.error_page(request, 403)
    today = ctx.clock.now().astimezone(labels.PARIS).date()
    reading = Reading({"du": du or today.replace(day=1).isoformat(), "au": au or today.isoformat()})
    start, end = reading.day("du"), reading.day("au")
    funnel, errors = None, dict(reading.errors)
    if start and end:
        try:
            funnel = await ctx.backends.call("intake", "GET", "/funnel", person.token, params={"from": start, "to": end})
        except BackendError as refused:
            if refused.status != 422:
                raise
            errors.update(path_errors(refused, {"query.from": "du", "query.to": "au"}))
            if "" in errors or not errors:
                errors = {"du": "La période doit commencer avant de finir."}
    values = {}
    if person.principal.role is Role.SUPERVISOR:
        values["queue"] = await ctx.backends.call("assessment", "GET", "/assessments", person.token, params={"status": "pending_review", "limit": 50})
        values["escalated"] = await ctx.backends.call(
            "notifications", "GET", "/alerts", person.token, params={"audience": "supervisor", "status": "open", "limit": 50}
        )
    return ctx.render(
        request, "steering.html", person, status_code=422 if errors else 200, funnel=funnel,
        chart=funnel_chart(funnel["total"]) if funnel else None, steps=FUNNEL_STEPS,
        typed={"du": du or reading.form["du"], "au": au or reading.form["au"]}, errors=errors,
        period=(date.fromisoformat(start), date.fromisoformat(end)) if funnel and start and end else None, **values,
    )
