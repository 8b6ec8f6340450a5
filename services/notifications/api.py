"""Notifications HTTP API: the alert inbox, e-mail preferences, and the ops' timers (webhooks in webhooks_api)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notifications import domain, mail_outbox, repository, usecases
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks_api import router as webhooks_router
from shared.auth import Principal, Role, require
from shared.errors import BusinessRuleError
from shared.http import not_found
from shared.runtime import ServiceContext, service_context
from shared.fields import IDENTIFIER_PATTERN, FreeText

router = APIRouter()  # filled at the end of the module
alerts = APIRouter(prefix="/alerts", tags=["alerts"])

Reader = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR))]
Counsellor = Annotated[Principal, Depends(require(Role.COUNSELLOR))]
Context = Annotated[ServiceContext, Depends(service_context)]


def _settings(ctx: ServiceContext) -> NotificationsSettings:
    settings = ctx.settings
    assert isinstance(settings, NotificationsSettings)
    return settings


def visible(principal: Principal, alert: domain.Alert) -> bool:
    """A counsellor sees their own alerts and the shared queue's; a supervisor all the association's."""
    if not principal.is_member_of(alert.association_id):
        return False
    if principal.role is Role.SUPERVISOR:
        return True
    return alert.audience == "association" or (alert.audience == "counsellor" and alert.counsellor_id == principal.subject)


async def _visible_alert(ctx: ServiceContext, principal: Principal, alert_id: UUID) -> domain.Alert:
    alert = await repository.get(ctx.pool, alert_id)
    if alert is None or not visible(principal, alert):
        raise not_found("alert", alert_id)
    return alert


@alerts.get("", response_model=list[domain.Alert], summary="The caller's inbox")
async def list_alerts(
    principal: Reader,
    ctx: Context,
    response: Response,
    status: domain.AlertStatus | None = Query(None, description="open, acknowledged, snoozed or resolved."),
    severity: domain.Severity | None = Query(None),
    audience: domain.Audience | None = Query(None, description="counsellor, association (shared queue) or supervisor."),
    loan_id: UUID | None = Query(None),
    application_id: UUID | None = Query(None, description="The file."),
    cause_type: str | None = Query(
        None, max_length=100, pattern=r"^fr\.microcredit\.[a-z_.]+\.v[0-9]+$", description="What raised it, e.g. fr.microcredit.payment.missed.v1."
    ),
    counsellor_id: str | None = Query(
        None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description="Supervisors: the alerts about one counsellor's files."
    ),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[domain.Alert]:
    """Newest first; the `X-Total-Count` header says how many match in all (for paging)."""
    query = repository.InboxQuery(
        association_id=principal.association_id or "",
        viewer_counsellor=principal.subject if principal.role is Role.COUNSELLOR else None,
        counsellor_id=counsellor_id if principal.role is Role.SUPERVISOR else None,
        status=status, severity=severity, audience=audience, loan_id=loan_id, application_id=application_id, cause_type=cause_type,
        limit=limit, offset=offset,
    )
    found, total = await repository.search(ctx.pool, query)
    response.headers["X-Total-Count"] = str(total)
    return found


@alerts.get("/{alert_id}", response_model=domain.Alert, summary="Read an alert")
async def get_alert(alert_id: UUID, principal: Reader, ctx: Context) -> domain.Alert:
    """One alert, if the caller may see it (another's answers 404 like an unknown one)."""
    return await _visible_alert(ctx, principal, alert_id)


@alerts.post("/{alert_id}/acknowledgement", response_model=domain.Alert, summary="Acknowledge an alert")
async def acknowledge(alert_id: UUID, principal: Reader, ctx: Context) -> domain.Alert:
    """Take the alert in hand: it no longer escalates. `alert acknowledged` is published once."""
    alert = await _visible_alert(ctx, principal, alert_id)
    return await usecases.acknowledge(ctx.pool, alert, principal.subject, ctx.clock.now())


class Resolution(BaseModel):
    """What was done about the alert."""

    model_config = ConfigDict(extra="forbid")

    note: FreeText = Field(min_length=1, max_length=2000, description="E.g. « Appelée le 7/04 : pause de 2 mois demandée à la banque. »")


@alerts.post("/{alert_id}/resolution", response_model=domain.Alert, summary="Resolve an alert with a note")
async def resolve(alert_id: UUID, body: Resolution, principal: Reader, ctx: Context) -> domain.Alert:
    """Close the alert; a resolved alert cannot change any more (409)."""
    await _visible_alert(ctx, principal, alert_id)
    if not body.note.strip():
        raise BusinessRuleError("the note says what was done: it cannot be blank", field="note", rule="blank", status=422)
    return await usecases.resolve(ctx.pool, alert_id, principal.subject, body.note.strip(), ctx.clock.now())


class Snooze(BaseModel):
    """Until when to put the alert aside."""

    model_config = ConfigDict(extra="forbid")

    until: date = Field(description="The day it comes back (at the configured hour, local time), after today.")


@alerts.post("/{alert_id}/snooze", response_model=domain.Alert, summary="Snooze an alert until a day")
async def snooze(alert_id: UUID, body: Snooze, principal: Reader, ctx: Context) -> domain.Alert:
    """No escalation meanwhile; on that day the alert is open again and a reminder is sent."""
    await _visible_alert(ctx, principal, alert_id)
    return await usecases.snooze(ctx.pool, alert_id, body.until, _settings(ctx), ctx.clock.now())


preferences = APIRouter(prefix="/preferences", tags=["alerts"])


class PreferenceChange(BaseModel):
    """One e-mail per alert, or one a day."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["immediate", "daily_digest"]
    digest_hour: int | None = Field(None, ge=0, le=23, description="daily_digest: local hour of the e-mail (default from settings).")


@preferences.get("/email", response_model=mail_outbox.EmailPreference, summary="My e-mail preference")
async def get_preference(principal: Counsellor, ctx: Context) -> mail_outbox.EmailPreference:
    """The counsellor's choice (default: one e-mail per alert)."""
    return await mail_outbox.preference(ctx.pool, principal.subject, _settings(ctx))


@preferences.put("/email", response_model=mail_outbox.EmailPreference, summary="Choose immediate e-mails or a daily digest")
async def set_preference(body: PreferenceChange, principal: Counsellor, ctx: Context) -> mail_outbox.EmailPreference:
    """Critical alerts are always sent at once, whatever the choice."""
    current = await mail_outbox.preference(ctx.pool, principal.subject, _settings(ctx))
    chosen = mail_outbox.EmailPreference(
        counsellor_id=principal.subject, mode=body.mode,
        digest_hour=body.digest_hour if body.digest_hour is not None else current.digest_hour, updated_at=ctx.clock.now(),
    )
    await mail_outbox.set_preference(ctx.pool, chosen)
    return chosen


# The routes themselves, not included sub-routers: whatever walks `router.routes` (OpenAPI checks,
# the HTTP sweeps of the tests) sees every endpoint.
for _part in (alerts, preferences, webhooks_router):
    router.routes.extend(_part.routes)
