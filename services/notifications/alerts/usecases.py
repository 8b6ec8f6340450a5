"""Alert use cases: what each event makes of the rules' memory and which alerts it raises; the inbox's actions; the timers.

An alert, its event (outbox) and its e-mail (e-mail outbox) are written in one transaction: the event's
for a rule, the timer's for a timer.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from services.notifications.alerts import domain, repository, rules
from services.notifications.alerts.domain import Alert, AlertDraft
from services.notifications.context import Notifications
from services.notifications.email import usecases as email
from services.notifications.settings import NotificationsSettings
from shared.events import (
    AdjustmentRefused,
    ApplicationAssessed,
    ApplicationRouted,
    ApplicationSubmitted,
    ApplicationUpdated,
    ApplicationWithdrawn,
    BankDecisionOverdue,
    DelinquencyStageChanged,
    LoanApproved,
    LoanClosed,
    LoanDeclined,
    LoanDisbursed,
    LoanRescheduled,
    LoanWrittenOff,
    PaymentMissed,
)
from shared.http import not_found
from shared.outbox import add_to_outbox
from shared.privacy.sealing import clear_or

BATCH = 200


def escalation_delay(settings: NotificationsSettings) -> timedelta:
    """How long an alert may stay unacknowledged."""
    return timedelta(hours=settings.escalation_delay_hours)


async def record_alerts(conn: asyncpg.Connection, drafts: list[AlertDraft], settings: NotificationsSettings, now: datetime) -> list[Alert]:
    """Store each new alert, its event (outbox) and its e-mail (e-mail outbox) in the caller's transaction; duplicates are skipped."""
    raised = []
    for draft in drafts:
        alert, event = domain.raise_alert(draft, now, escalation_delay(settings))
        if await repository.insert(conn, alert):
            await add_to_outbox(conn, event)
            await email.queue_alert(conn, alert, settings, now)
            raised.append(alert)
    return raised


# --- what each event makes of the rules' memory, and its alerts (in the event's transaction) ----------


def file_submitted(event: ApplicationSubmitted) -> repository.RememberedFile:
    """What a submitted file leaves to remember: the applicant's name, for the counsellor's e-mails (none once the
    applicant was erased: it stays sealed). A run of them is written at once (`repository.remember_files`)."""
    return event.data.application_id, None, clear_or(event.data.applicant_name, None)


async def remember_files(conn: asyncpg.Connection, files: list[repository.RememberedFile]) -> None:
    """Write what a run of submitted files left to remember, in one round trip."""
    await repository.remember_files(conn, files)


async def file_updated(conn: asyncpg.Connection, event: ApplicationUpdated, settings: NotificationsSettings, now: datetime) -> None:
    """The applicant's name as it is now; documents received shorten (or end) an incomplete file's wait."""
    d = event.data
    await repository.remember_file(conn, d.application_id, applicant_name=clear_or(d.applicant_name, None))
    if watched := await repository.incomplete(conn, d.application_id):
        if missing := rules.still_missing(watched.missing_documents, d.documents):
            await repository.update_missing(conn, d.application_id, missing)
        else:
            await repository.stop_watching(conn, d.application_id)


async def file_assessed(conn: asyncpg.Connection, event: ApplicationAssessed, settings: NotificationsSettings, now: datetime) -> None:
    """An incomplete file is watched (afresh); any other outcome stops the watch."""
    file = rules.incomplete_file(event)
    if file is None:
        await repository.stop_watching(conn, event.data.application_id)
    else:
        await repository.watch_incomplete(conn, file)


async def file_routed(conn: asyncpg.Connection, event: ApplicationRouted, settings: NotificationsSettings, now: datetime) -> None:
    """The file left the association for a bank: no more waiting for documents; its bank is known."""
    await repository.stop_watching(conn, event.data.application_id)
    await repository.remember_file(conn, event.data.application_id, bank_id=event.data.bank_id)


async def file_withdrawn(conn: asyncpg.Connection, event: ApplicationWithdrawn, settings: NotificationsSettings, now: datetime) -> None:
    """A withdrawn file waits for nothing any more."""
    await repository.stop_watching(conn, event.data.application_id)


async def loan_decided(
    conn: asyncpg.Connection, event: LoanApproved | LoanDeclined, settings: NotificationsSettings, now: datetime
) -> list[Alert]:
    """The bank's answer reaches the counsellor; the file's bank is known."""
    await repository.remember_file(conn, event.data.application_id, bank_id=event.data.bank_id)
    draft = rules.on_loan_approved(event) if isinstance(event, LoanApproved) else rules.on_loan_declined(event)
    return await record_alerts(conn, [draft], settings, now)


async def decision_overdue(conn: asyncpg.Connection, event: BankDecisionOverdue, settings: NotificationsSettings, now: datetime) -> list[Alert]:
    """A file left without a bank decision: the counsellor chases the bank."""
    return await record_alerts(conn, [rules.on_bank_decision_overdue(event)], settings, now)


async def loan_disbursed(conn: asyncpg.Connection, event: LoanDisbursed, settings: NotificationsSettings, now: datetime) -> list[Alert]:
    """The loan's file is known from now on; the counsellor reminds the borrower of the first instalment."""
    await repository.remember_loan(conn, event.data.loan_id, event.data.application_id)
    return await record_alerts(conn, [rules.on_loan_disbursed(event)], settings, now)


async def loan_slipping(
    conn: asyncpg.Connection, event: PaymentMissed | DelinquencyStageChanged, settings: NotificationsSettings, now: datetime
) -> list[Alert]:
    """A missed instalment or a new stage updates the loan's follow-up and raises what the rules say."""
    followup = await repository.followup(conn, event.data.loan_id)
    if isinstance(event, PaymentMissed):
        updated, drafts = rules.on_payment_missed(event, followup)
    else:
        updated, drafts = rules.on_stage_changed(event, followup)
    await repository.save_followup(conn, updated)
    return await record_alerts(conn, drafts, settings, now)


async def loan_adjusted(
    conn: asyncpg.Connection, event: LoanRescheduled | AdjustmentRefused, settings: NotificationsSettings, now: datetime
) -> list[Alert]:
    """The bank's answer to an adjustment reaches the counsellor."""
    followup = await repository.followup(conn, event.data.loan_id)
    if isinstance(event, LoanRescheduled):
        draft = rules.on_loan_rescheduled(event, followup)
    else:
        draft = rules.on_adjustment_refused(event, followup)
    return await record_alerts(conn, [draft], settings, now)


async def loan_ended(conn: asyncpg.Connection, event: LoanWrittenOff | LoanClosed, settings: NotificationsSettings, now: datetime) -> None:
    """The loan's last events name its file too: which file (and so which bank) the loan is on."""
    await repository.remember_loan(conn, event.data.loan_id, event.data.application_id)


# --- the inbox's actions -------------------------------------------------------------------------------


async def _locked(conn: asyncpg.Connection, alert_id: UUID) -> Alert:
    alert = await repository.get(conn, alert_id, for_update=True)
    if alert is None:
        raise not_found("alert", alert_id)
    return alert


async def acknowledge(pool: asyncpg.Pool, alert_id: UUID, by: str, now: datetime) -> Alert:
    """Acknowledge an alert (and say so on the alerts topic); again changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        done, event = domain.acknowledge(await _locked(conn, alert_id), by, now)
        if event is not None:
            await repository.save(conn, done)
            await add_to_outbox(conn, event)
        return done


async def resolve(pool: asyncpg.Pool, alert_id: UUID, by: str, note: str, now: datetime) -> Alert:
    """Resolve an alert with a note."""
    async with pool.acquire() as conn, conn.transaction():
        done = domain.resolve(await _locked(conn, alert_id), by, note, now)
        await repository.save(conn, done)
        return done


async def snooze(pool: asyncpg.Pool, alert_id: UUID, until: date, settings: NotificationsSettings, now: datetime) -> Alert:
    """Put an alert aside until a day."""
    async with pool.acquire() as conn, conn.transaction():
        done = domain.snooze(
            await _locked(conn, alert_id), until, now=now, zone=settings.zone, hour=settings.snooze_wake_hour,
            max_days=settings.max_snooze_days,
        )
        await repository.save(conn, done)
        return done


# --- the timers ------------------------------------------------------------------------------------------


class Escalations(BaseModel):
    """What the escalation timer did."""

    escalated: int = Field(0, description="Supervisors' alerts raised for alerts left unacknowledged.")


class Reminders(BaseModel):
    """What the snooze timer did."""

    reminded: int = Field(0, description="Snoozed alerts back in the inbox, with a reminder.")


class IncompleteFiles(BaseModel):
    """What the incomplete-files timer did."""

    incomplete_files: int = Field(0, description="Alerts for files incomplete too long.")


async def escalate_unacknowledged(ctx: Notifications) -> Escalations:
    """Alerts left open past their deadline go to the supervisors."""
    settings, now = ctx.settings, ctx.clock.now()
    run = Escalations()
    async with ctx.pool.acquire() as conn, conn.transaction():
        for alert in await repository.due_for_escalation(conn, now, BATCH):
            draft = rules.escalation_of(alert, now)
            if draft is None:
                continue
            # A rule may have escalated the same cause already: then this records nothing new.
            run.escalated += len(await record_alerts(conn, [draft], settings, now))
            await repository.save(conn, alert.model_copy(update={"escalated_at": now}))
    return run


async def wake_snoozed(ctx: Notifications) -> Reminders:
    """Snoozed alerts whose day has come are open again and remind their addressees."""
    settings, now = ctx.settings, ctx.clock.now()
    run = Reminders()
    async with ctx.pool.acquire() as conn, conn.transaction():
        for alert in await repository.due_for_wake_up(conn, now, BATCH):
            awake = domain.wake(alert, now, escalation_delay(settings))
            await repository.save(conn, awake)
            await email.queue_reminder(conn, awake, alert.snoozed_until or now, settings, now)
            run.reminded += 1
    return run


async def alert_incomplete_files(ctx: Notifications) -> IncompleteFiles:
    """Files incomplete for longer than the setting alert their counsellor, once."""
    settings, now = ctx.settings, ctx.clock.now()
    after = timedelta(days=settings.incomplete_file_days)
    run = IncompleteFiles()
    async with ctx.pool.acquire() as conn, conn.transaction():
        for file in await repository.incomplete_due(conn, now - after, BATCH):
            if (draft := rules.incomplete_file_alert(file, now, after)) is not None:
                run.incomplete_files += len(await record_alerts(conn, [draft], settings, now))
            await repository.mark_incomplete_alerted(conn, file.application_id, now)
    return run
