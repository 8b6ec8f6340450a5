"""Assessment's Kafka handlers: thin translations from events to use cases."""

from __future__ import annotations

import asyncpg

from services.assessment import domain, repository
from services.assessment.settings import AssessmentSettings
from shared.events import ApplicationSubmitted, Topics
from shared.runtime import ServiceContext

GROUP_ID = "assessment"


def register(ctx: ServiceContext) -> None:
    """Subscribe assessment to the applications stream."""
    settings = ctx.settings
    assert isinstance(settings, AssessmentSettings)

    async def on_application_submitted(conn: asyncpg.Connection, event: ApplicationSubmitted) -> None:
        if await repository.get(conn, event.data.application_id) is not None:
            return
        await repository.save(conn, domain.open_assessment(event, settings.diagnostic_annual_rate, ctx.clock.now()))

    ctx.consume(GROUP_ID, (Topics.APPLICATIONS,), {ApplicationSubmitted: on_application_submitted})
