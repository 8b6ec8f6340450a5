"""The timers, on the injected clock: escalations, snooze reminders, incomplete files, daily digests."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from services.notifications import domain, mail_outbox, projections, repository, rules, usecases
from services.notifications.settings import NotificationsSettings
from services.notifications.mailer import send_due_emails
from services.notifications.webhook_sender import send_due_webhooks
from shared.runtime import ServiceContext
from shared.timers import Timer

BATCH = 200
Context = ServiceContext[NotificationsSettings]


def _settings(ctx: Context) -> NotificationsSettings:
    return ctx.settings


async def escalate_unacknowledged(ctx: Context) -> int:
    """Alerts left open past their deadline go to the supervisors; returns how many supervisors' alerts were raised."""
    settings, now = _settings(ctx), ctx.clock.now()
    raised = 0
    async with ctx.pool.acquire() as conn, conn.transaction():
        for alert in await repository.due_for_escalation(conn, now, BATCH):
            draft = rules.escalation_of(alert, now)
            if draft is None:
                continue
            # A rule may have escalated the same cause already: then this records nothing new.
            raised += len(await usecases.record_alerts(conn, [draft], settings, now))
            await repository.save(conn, alert.model_copy(update={"escalated_at": now}))
    return raised


async def wake_snoozed(ctx: Context) -> int:
    """Snoozed alerts whose day has come are open again and remind their addressees."""
    settings, now = _settings(ctx), ctx.clock.now()
    woken = 0
    async with ctx.pool.acquire() as conn, conn.transaction():
        for alert in await repository.due_for_wake_up(conn, now, BATCH):
            assert alert.snoozed_until is not None
            awake = domain.wake(alert, now, usecases.escalation_delay(settings))
            await repository.save(conn, awake)
            await mail_outbox.queue_reminder(conn, awake, alert.snoozed_until, settings, now)
            woken += 1
    return woken


async def alert_incomplete_files(ctx: Context) -> int:
    """Files incomplete for longer than the setting alert their counsellor, once."""
    settings, now = _settings(ctx), ctx.clock.now()
    after = timedelta(days=settings.incomplete_file_days)
    raised = 0
    async with ctx.pool.acquire() as conn, conn.transaction():
        for file in await projections.incomplete_due(conn, now - after, BATCH):
            draft = rules.incomplete_file_alert(file, now, after)
            if draft is not None:
                raised += len(await usecases.record_alerts(conn, [draft], settings, now))
            await projections.mark_incomplete_alerted(conn, file.application_id, now)
    return raised


async def write_digests(ctx: Context) -> int:
    """The daily digests whose hour has come."""
    return await mail_outbox.queue_digests(ctx.pool, _settings(ctx), ctx.clock.now())


class Escalations(BaseModel):
    """What the escalation timer did."""

    escalated: int = Field(description="Supervisors' alerts raised for alerts left unacknowledged.")


class Reminders(BaseModel):
    """What the snooze timer did."""

    reminded: int = Field(description="Snoozed alerts back in the inbox, with a reminder.")


class IncompleteFiles(BaseModel):
    """What the incomplete-files timer did."""

    incomplete_files: int = Field(description="Alerts for files incomplete too long.")


class Digests(BaseModel):
    """What the digest timer did."""

    digests: int = Field(description="Daily digests written.")


class Emails(BaseModel):
    """What the mailer did."""

    emails_sent: int = Field(description="E-mails the SMTP relay accepted.")
    emails_retried: int = Field(description="E-mails to try again later.")
    emails_failed: int = Field(description="E-mails given up (`delivery failed`).")


class Webhooks(BaseModel):
    """What the webhook worker did."""

    webhooks_delivered: int = Field(description="Deliveries a bank answered with 2xx.")
    webhooks_retried: int = Field(description="Deliveries to try again later.")
    webhooks_failed: int = Field(description="Deliveries given up.")
    subscriptions_paused: int = Field(description="Subscriptions paused after repeated failures.")


async def _escalations(ctx: Context) -> Escalations:
    return Escalations(escalated=await escalate_unacknowledged(ctx))


async def _reminders(ctx: Context) -> Reminders:
    return Reminders(reminded=await wake_snoozed(ctx))


async def _incomplete_files(ctx: Context) -> IncompleteFiles:
    return IncompleteFiles(incomplete_files=await alert_incomplete_files(ctx))


async def _digests(ctx: Context) -> Digests:
    return Digests(digests=await write_digests(ctx))


async def _emails(ctx: Context) -> Emails:
    run = await send_due_emails(ctx)
    return Emails(emails_sent=run.sent, emails_retried=run.retried, emails_failed=run.failed)


async def _webhooks(ctx: Context) -> Webhooks:
    run = await send_due_webhooks(ctx)
    return Webhooks(
        webhooks_delivered=run.delivered, webhooks_retried=run.retried, webhooks_failed=run.failed,
        subscriptions_paused=run.paused,
    )


def _timers_every(settings: NotificationsSettings) -> float:
    return settings.timer_interval_seconds


def _deliveries_every(settings: NotificationsSettings) -> float:
    return settings.delivery_interval_seconds


TIMERS: tuple[Timer[NotificationsSettings], ...] = (
    Timer("escalations", _timers_every, _escalations, Escalations),
    Timer("reminders", _timers_every, _reminders, Reminders),
    Timer("incomplete_files", _timers_every, _incomplete_files, IncompleteFiles),
    Timer("digests", _timers_every, _digests, Digests),
    Timer("emails", _deliveries_every, _emails, Emails),
    Timer("webhooks", _deliveries_every, _webhooks, Webhooks),
)
