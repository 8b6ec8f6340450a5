"""Notifications' Kafka handlers: events in, alerts out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from services.notifications import domain, repository
from shared.consumer import Handler
from shared.events import BankDecisionOverdue, CounsellorAlertRaised, PaymentMissed, Topics
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext

GROUP_ID = "notifications"


def register(ctx: ServiceContext) -> None:
    """Subscribe notifications to what a counsellor must hear of, on the loans and applications streams."""

    def raising(rule: Callable[[Any, datetime], tuple[domain.Alert, CounsellorAlertRaised]]) -> Handler:
        async def handle(conn: asyncpg.Connection, event: Any) -> None:
            alert, raised = rule(event, ctx.clock.now())
            if await repository.insert(conn, alert):
                await add_to_outbox(conn, raised)

        return handle

    ctx.consume(
        GROUP_ID,
        (Topics.LOANS, Topics.APPLICATIONS),
        {
            PaymentMissed: raising(domain.alert_for_missed_payment),
            BankDecisionOverdue: raising(domain.alert_for_overdue_bank_decision),
        },
    )
