"""Notifications HTTP API: the counsellor's alert inbox."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.notifications import domain, repository
from shared.http import not_found
from shared.text import IDENTIFIER_PATTERN
from shared.runtime import ServiceContext, service_context

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=list[domain.Alert], summary="A counsellor's alerts")
async def list_alerts(
    counsellor_id: str = Query(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN),
    loan_id: UUID | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    ctx: ServiceContext = Depends(service_context),
) -> list[domain.Alert]:
    """Newest first, optionally for one loan."""
    return await repository.search(ctx.pool, counsellor_id=counsellor_id, loan_id=loan_id, limit=limit, offset=offset)


@router.get("/{alert_id}", response_model=domain.Alert, summary="Read an alert")
async def get_alert(alert_id: UUID, ctx: ServiceContext = Depends(service_context)) -> domain.Alert:
    """One alert."""
    alert = await repository.get(ctx.pool, alert_id)
    if alert is None:
        raise not_found("alert", alert_id)
    return alert
