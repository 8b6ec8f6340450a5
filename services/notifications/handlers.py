"""Notifications' Kafka handlers: events in, alerts out."""

from __future__ import annotations

import asyncpg

from services.notifications import domain, repository
from shared.events import PaymentMissed, Topics
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext

GROUP_ID = "notifications"


def register(ctx: ServiceContext) -> None:
    """Subscribe notifications to the loans stream."""

    async def on_payment_missed(conn: asyncpg.Connection, event: PaymentMissed) -> None:
        alert, raised = domain.alert_for_missed_payment(event, ctx.clock.now())
        if await repository.insert(conn, alert):
            await add_to_outbox(conn, raised)

    ctx.consume(GROUP_ID, (Topics.LOANS,), {PaymentMissed: on_payment_missed})
