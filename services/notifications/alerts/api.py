"""Alert routes: the inbox of a counsellor (own alerts and the shared queue) or a supervisor (the association's), and its actions."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notifications.alerts import repository, usecases
from services.notifications.alerts.domain import Alert, AlertStatus, Audience, Severity
from services.notifications.context import Context
from shared.arrivals import Prefer
from shared.http import PAGED, TOTAL_COUNT, PageQuery, not_found
from shared.auth import AssociationStaff, Principal, Role
from shared.fields import IDENTIFIER_PATTERN, Day, FreeText
from shared.openapi import problems

router = APIRouter(prefix="/alerts", tags=["alerts"])


def visible(principal: Principal, alert: Alert) -> bool:
    """A counsellor sees their own alerts and the shared queue's; a supervisor all the association's."""
    if not principal.is_member_of(alert.association_id):
        return False
    if principal.role is Role.SUPERVISOR:
        return True
    return alert.audience == "association" or (alert.audience == "counsellor" and alert.counsellor_id == principal.subject)


async def _visible_alert(ctx: Context, principal: Principal, alert_id: UUID) -> Alert:
    alert = await repository.get(ctx.pool, alert_id)
    if alert is None or not visible(principal, alert):
        raise not_found("alert", alert_id)
    return alert


@router.get("", response_model=list[Alert], summary="The caller's inbox", responses=PAGED)
async def list_alerts(
    principal: AssociationStaff,
    ctx: Context,
    response: Response,
    page: PageQuery,
    status: AlertStatus | None = Query(None, description="open, acknowledged, snoozed or resolved."),
    severity: Severity | None = Query(None),
    audience: Audience | None = Query(None, description="counsellor, association (shared queue) or supervisor."),
    loan_id: UUID | None = Query(None),
    application_id: UUID | None = Query(None, description="The file."),
    cause_type: str | None = Query(
        None, max_length=100, pattern=r"^fr\.microcredit\.[a-z_.]+\.v[0-9]+$", description="What raised it, e.g. fr.microcredit.payment.missed.v1."
    ),
    counsellor_id: str | None = Query(
        None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description="Supervisors: the alerts about one counsellor's files."
    ),
    prefer: Prefer = None,
) -> list[Alert]:
    """Newest first; the `X-Total-Count` header says how many match in all (for paging). With `loan_id` or
    `application_id` and `Prefer: wait=N`, answered as soon as an alert matches (an empty list after N s)."""
    query = repository.InboxQuery(
        association_id=principal.association_id or "",
        viewer_counsellor=principal.subject if principal.role is Role.COUNSELLOR else None,
        counsellor_id=counsellor_id if principal.role is Role.SUPERVISOR else None,
        status=status, severity=severity, audience=audience, loan_id=loan_id, application_id=application_id, cause_type=cause_type,
        limit=page.limit, offset=page.offset,
    )
    answer: tuple[list[Alert], int] = ([], 0)

    async def read() -> tuple[list[Alert], int] | None:
        nonlocal answer
        answer = await repository.search(ctx.pool, query)
        return answer if answer[0] else None  # an empty page still carries the total (a page past the end)

    keys = [str(key) for key in (loan_id, application_id) if key is not None]
    await ctx.arrivals.honour(prefer if keys else None, response, keys, read)
    found, total = answer
    response.headers[TOTAL_COUNT] = str(total)
    return found


@router.get("/{alert_id}", response_model=Alert, summary="Read an alert")
async def get_alert(alert_id: UUID, principal: AssociationStaff, ctx: Context) -> Alert:
    """One alert, if the caller may see it (another's answers 404 like an unknown one)."""
    return await _visible_alert(ctx, principal, alert_id)


@router.post("/{alert_id}/acknowledgement", response_model=Alert, summary="Acknowledge an alert", responses=problems(409))
async def acknowledge(alert_id: UUID, principal: AssociationStaff, ctx: Context) -> Alert:
    """Take the alert in hand: it no longer escalates. `alert acknowledged` is published once; a resolved alert answers 409."""
    await _visible_alert(ctx, principal, alert_id)
    return await usecases.acknowledge(ctx.pool, alert_id, principal.subject, ctx.clock.now())


class Resolution(BaseModel):
    """What was done about the alert."""

    model_config = ConfigDict(extra="forbid")

    note: FreeText = Field(min_length=1, max_length=2000, description="E.g. « Appelée le 7/04 : pause de 2 mois demandée à la banque. »")


@router.post("/{alert_id}/resolution", response_model=Alert, summary="Resolve an alert with a note", responses=problems(409))
async def resolve(alert_id: UUID, body: Resolution, principal: AssociationStaff, ctx: Context) -> Alert:
    """Close the alert; a resolved alert cannot change any more (409)."""
    await _visible_alert(ctx, principal, alert_id)
    return await usecases.resolve(ctx.pool, alert_id, principal.subject, body.note, ctx.clock.now())


class Snooze(BaseModel):
    """Until when to put the alert aside."""

    model_config = ConfigDict(extra="forbid")

    until: Day = Field(description="The day it comes back (at the configured hour, local time), after today.")


@router.post("/{alert_id}/snooze", response_model=Alert, summary="Snooze an alert until a day", responses=problems(409))
async def snooze(alert_id: UUID, body: Snooze, principal: AssociationStaff, ctx: Context) -> Alert:
    """No escalation meanwhile; on that day the alert is open again and a reminder is sent. A resolved alert answers 409."""
    await _visible_alert(ctx, principal, alert_id)
    return await usecases.snooze(ctx.pool, alert_id, body.until, ctx.settings, ctx.clock.now())
