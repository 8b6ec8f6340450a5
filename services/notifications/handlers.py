"""Notifications' Kafka handlers: each event goes to its alerts use case, then to its bank's feed and webhooks if a bank
may receive it; a bank the directory tells of gets its topics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg

from services.notifications.alerts import usecases as alerts
from services.notifications.alerts.erasure import erase_person
from services.notifications.context import Notifications
from services.notifications.email import usecases as email
from services.notifications.settings import NotificationsSettings
from services.notifications import partners
from shared.batch_handler import BatchHandler, writing_rows
from shared.consumer import Handler
from shared.events import (
    AdjustmentRefused,
    ApplicationAssessed,
    ApplicationRouted,
    ApplicationSubmitted,
    ApplicationUpdated,
    ApplicationWithdrawn,
    BankDecisionOverdue,
    DelinquencyStageChanged,
    DirectoryAssociation,
    DirectoryBank,
    DirectoryContact,
    Envelope,
    LoanApproved,
    LoanClosed,
    LoanDeclined,
    LoanDisbursed,
    LoanRescheduled,
    LoanWrittenOff,
    PARTNER_FIELDS,
    PaymentMissed,
    PersonErased,
    Topics,
)

GROUP_ID = "notifications"
DIRECTORY_GROUP_ID = "notifications-directory"
ERASURES_GROUP_ID = "notifications-erasures"
# A use case an event is handed to, in the event's transaction.
UseCase = Callable[[asyncpg.Connection, Any, NotificationsSettings, datetime], Awaitable[object]]

ALERTS: dict[type[Envelope[Any]], UseCase] = {
    ApplicationUpdated: alerts.file_updated,
    ApplicationAssessed: alerts.file_assessed,
    ApplicationRouted: alerts.file_routed,
    ApplicationWithdrawn: alerts.file_withdrawn,
    LoanApproved: alerts.loan_decided,
    LoanDeclined: alerts.loan_decided,
    BankDecisionOverdue: alerts.decision_overdue,
    LoanDisbursed: alerts.loan_disbursed,
    PaymentMissed: alerts.loan_slipping,
    DelinquencyStageChanged: alerts.loan_slipping,
    LoanRescheduled: alerts.loan_adjusted,
    AdjustmentRefused: alerts.loan_adjusted,
    LoanWrittenOff: alerts.loan_ended,
    LoanClosed: alerts.loan_ended,
}


# The events whose alerts use case takes a run of them at once (shared.batch_handler): one round trip for a run of
# submitted files, not one per file. None of them goes to a bank's feed (PARTNER_FIELDS): the run is its whole handling.
BATCHED: dict[type[Envelope[Any]], BatchHandler[Any, Any]] = {
    ApplicationSubmitted: writing_rows(alerts.file_submitted, alerts.remember_files),
}


def use_cases(event_type: type[Envelope[Any]]) -> list[UseCase]:
    """What an event is handed to, in order: its alerts use case first (it learns the loan's file), then the bank's feed
    and webhooks."""
    steps = [ALERTS[event_type]] if event_type in ALERTS else []
    if event_type in PARTNER_FIELDS:
        steps.append(partners.share)
    return steps


def register(ctx: Notifications) -> None:
    """Subscribe notifications to the applications and loans streams, the erasures, and the directory's addresses."""

    def handling(steps: list[UseCase]) -> Handler:
        async def handle(conn: asyncpg.Connection, event: Any) -> None:
            now = ctx.clock.now()
            for step in steps:
                await step(conn, event, ctx.settings, now)

        return handle

    async def on_erased(conn: asyncpg.Connection, event: PersonErased) -> None:
        await erase_person(conn, event.data.subject_id)

    handlers: dict[type[Envelope[Any]], Handler] = {cls: handling(use_cases(cls)) for cls in ALERTS.keys() | PARTNER_FIELDS.keys()}
    # GET /alerts?loan_id= (or application_id=) with `Prefer: wait=N` answers once an alert is raised.
    ctx.consume(GROUP_ID, (Topics.LOANS, Topics.APPLICATIONS), handlers | BATCHED, announce=True)
    ctx.consume(ERASURES_GROUP_ID, (Topics.PRIVACY,), {PersonErased: on_erased})

    async def on_contact(conn: asyncpg.Connection, event: DirectoryContact) -> None:
        await email.keep_contact(conn, event.data)

    async def on_association(conn: asyncpg.Connection, event: DirectoryAssociation) -> None:
        await email.keep_association(conn, event.data)

    async def on_bank(conn: asyncpg.Connection, event: DirectoryBank) -> None:
        await partners.keep_bank(conn, event.data.bank_id)

    ctx.consume(
        DIRECTORY_GROUP_ID,
        (Topics.DIRECTORY,),
        {DirectoryContact: on_contact, DirectoryAssociation: on_association, DirectoryBank: on_bank},
    )
