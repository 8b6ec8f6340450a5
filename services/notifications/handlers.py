"""Notifications' Kafka handlers: each event updates what the rules remember, raises its alerts, feeds the banks' webhooks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg

from services.notifications import projections, rules, usecases, webhook_store
from services.notifications.domain import AlertDraft
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import MINIMAL_FIELDS
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
    Envelope,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    LoanRescheduled,
    PaymentMissed,
    Topics,
)
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)

GROUP_ID = "notifications"
# What an event makes of the rules' memory and which alerts it raises (in the event's transaction).
Rule = Callable[[asyncpg.Connection, Any], Awaitable[list[AlertDraft]]]


async def _file_opened(conn: asyncpg.Connection, event: ApplicationSubmitted | ApplicationUpdated) -> list[AlertDraft]:
    d = event.data
    await projections.remember_file(conn, d.application_id, applicant_name=d.applicant_name)
    if isinstance(event, ApplicationUpdated) and (watched := await projections.incomplete(conn, d.application_id)):
        missing = rules.still_missing(watched.missing_documents, d.documents)
        if missing:
            await projections.update_missing(conn, d.application_id, missing)
        else:
            await projections.stop_watching(conn, d.application_id)
    return []


async def _assessed(conn: asyncpg.Connection, event: ApplicationAssessed) -> list[AlertDraft]:
    file = rules.incomplete_file(event)
    if file is None:
        await projections.stop_watching(conn, event.data.application_id)
    else:
        await projections.watch_incomplete(conn, file)
    return []


async def _closed_file(conn: asyncpg.Connection, event: ApplicationRouted | ApplicationWithdrawn) -> list[AlertDraft]:
    await projections.stop_watching(conn, event.data.application_id)
    if isinstance(event, ApplicationRouted):
        await projections.remember_file(conn, event.data.application_id, bank_id=event.data.bank_id)
    return []


async def _decided(conn: asyncpg.Connection, event: LoanApproved | LoanDeclined) -> list[AlertDraft]:
    await projections.remember_file(conn, event.data.application_id, bank_id=event.data.bank_id)
    return [rules.on_loan_approved(event) if isinstance(event, LoanApproved) else rules.on_loan_declined(event)]


async def _overdue(_: asyncpg.Connection, event: BankDecisionOverdue) -> list[AlertDraft]:
    return [rules.on_bank_decision_overdue(event)]


async def _disbursed(conn: asyncpg.Connection, event: LoanDisbursed) -> list[AlertDraft]:
    await projections.remember_loan(conn, event.data.loan_id, event.data.application_id)
    return [rules.on_loan_disbursed(event)]


async def _loan_slipping(conn: asyncpg.Connection, event: PaymentMissed | DelinquencyStageChanged) -> list[AlertDraft]:
    followup = await projections.followup(conn, event.data.loan_id)
    rule = rules.on_payment_missed if isinstance(event, PaymentMissed) else rules.on_stage_changed
    updated, drafts = rule(event, followup)  # type: ignore[arg-type]
    await projections.save_followup(conn, updated)
    return drafts


async def _adjusted(conn: asyncpg.Connection, event: LoanRescheduled | AdjustmentRefused) -> list[AlertDraft]:
    followup = await projections.followup(conn, event.data.loan_id)
    if isinstance(event, LoanRescheduled):
        return [rules.on_loan_rescheduled(event, followup)]
    return [rules.on_adjustment_refused(event, followup)]


async def _loan_fact(conn: asyncpg.Connection, event: Envelope[Any]) -> list[AlertDraft]:
    application_id = getattr(event.data, "application_id", None)
    if application_id is not None:
        await projections.remember_loan(conn, event.data.loan_id, application_id)
    return []


RULES: dict[type[Envelope[Any]], Rule] = {
    ApplicationSubmitted: _file_opened,
    ApplicationUpdated: _file_opened,
    ApplicationAssessed: _assessed,
    ApplicationRouted: _closed_file,
    ApplicationWithdrawn: _closed_file,
    LoanApproved: _decided,
    LoanDeclined: _decided,
    BankDecisionOverdue: _overdue,
    LoanDisbursed: _disbursed,
    PaymentMissed: _loan_slipping,
    DelinquencyStageChanged: _loan_slipping,
    LoanRescheduled: _adjusted,
    AdjustmentRefused: _adjusted,
}
# The other events the banks may subscribe to only feed webhooks (and tell which file a loan is on).
RULES.update({cls: _loan_fact for cls in MINIMAL_FIELDS if cls not in RULES})


async def bank_of(conn: asyncpg.Connection, event: Envelope[Any]) -> str | None:
    """The bank an event concerns: named in it, or the bank the loan's file went to."""
    data = event.data
    if bank_id := getattr(data, "bank_id", None):
        return bank_id
    loan_id: UUID | None = getattr(data, "loan_id", None)
    return await projections.bank_of_loan(conn, loan_id) if loan_id else None


def register(ctx: ServiceContext) -> None:
    """Subscribe notifications to the applications and loans streams."""

    def handling(rule: Rule) -> Handler:
        async def handle(conn: asyncpg.Connection, event: Any) -> None:
            settings = ctx.settings
            assert isinstance(settings, NotificationsSettings)
            now = ctx.clock.now()
            await usecases.record_alerts(conn, await rule(conn, event), settings, now)
            if type(event) in MINIMAL_FIELDS:
                bank_id = await bank_of(conn, event)
                if bank_id is None:
                    log.info("%s %s: no bank known for it, no webhook", event.type, event.id)
                else:
                    await webhook_store.fan_out(conn, event, bank_id, now)

        return handle

    ctx.consume(GROUP_ID, (Topics.LOANS, Topics.APPLICATIONS), {cls: handling(rule) for cls, rule in RULES.items()})
