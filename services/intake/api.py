"""Intake HTTP API for association counsellors."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends

from services.intake import domain, repository
from shared.http import not_found
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext, service_context

router = APIRouter(prefix="/applications", tags=["applications"])


@router.post("", status_code=201, response_model=domain.Application, summary="Submit an application")
async def submit_application(
    body: domain.NewApplication, ctx: ServiceContext = Depends(service_context)
) -> domain.Application:
    """Persist the application and its `application submitted` event in one transaction."""
    application, event = domain.submit(body, ctx.clock.now())
    async with ctx.pool.acquire() as conn, conn.transaction():
        await repository.insert(conn, application)
        await add_to_outbox(conn, event)
    return application


@router.get("/{application_id}", response_model=domain.Application, summary="Read an application")
async def get_application(application_id: UUID, ctx: ServiceContext = Depends(service_context)) -> domain.Application:
    """The application as submitted, with its status."""
    application = await repository.get(ctx.pool, application_id)
    if application is None:
        raise not_found("application", application_id)
    return application
