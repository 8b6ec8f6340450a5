"""Notifications HTTP API: the counsellor's alert inbox."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.notifications import domain, repository
from shared.auth import Principal, Role, require
from shared.http import not_found
from shared.runtime import ServiceContext, service_context
from shared.text import IDENTIFIER_PATTERN

router = APIRouter(prefix="/alerts", tags=["alerts"])

Reader = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR))]


def visible(principal: Principal, alert: domain.Alert) -> bool:
    """A counsellor sees their own alerts; a supervisor those of the association."""
    if not principal.is_member_of(alert.association_id):
        return False
    return principal.role is Role.SUPERVISOR or alert.counsellor_id == principal.subject


@router.get("", response_model=list[domain.Alert], summary="The caller's alerts")
async def list_alerts(
    principal: Reader,
    counsellor_id: str | None = Query(
        None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description="Supervisors: one counsellor's alerts."
    ),
    loan_id: UUID | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    ctx: ServiceContext = Depends(service_context),
) -> list[domain.Alert]:
    """Newest first: a counsellor's own, or (supervisor) the association's, optionally for one loan."""
    if principal.role is Role.COUNSELLOR:
        counsellor_id = principal.subject
    return await repository.search(
        ctx.pool,
        association_id=principal.association_id or "",
        counsellor_id=counsellor_id,
        loan_id=loan_id,
        limit=limit,
        offset=offset,
    )


@router.get("/{alert_id}", response_model=domain.Alert, summary="Read an alert")
async def get_alert(alert_id: UUID, principal: Reader, ctx: ServiceContext = Depends(service_context)) -> domain.Alert:
    """One alert, if the caller may see it (another's answers 404 like an unknown one)."""
    alert = await repository.get(ctx.pool, alert_id)
    if alert is None or not visible(principal, alert):
        raise not_found("alert", alert_id)
    return alert
