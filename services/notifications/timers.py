"""The timers, on the injected clock: escalations, snooze reminders, incomplete files, daily digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.notifications import domain, mail_outbox, projections, repository, rules, usecases
from services.notifications.settings import NotificationsSettings
from shared.runtime import ServiceContext

BATCH = 200


@dataclass
class TimersRun:
    """What one run of the timers did."""

    escalated: int = 0
    reminded: int = 0
    incomplete_files: int = 0
    digests: int = 0


def _settings(ctx: ServiceContext) -> NotificationsSettings:
    settings = ctx.settings
    assert isinstance(settings, NotificationsSettings)
    return settings


async def escalate_unacknowledged(ctx: ServiceContext) -> int:
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


async def wake_snoozed(ctx: ServiceContext) -> int:
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


async def alert_incomplete_files(ctx: ServiceContext) -> int:
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


async def write_digests(ctx: ServiceContext) -> int:
    """The daily digests whose hour has come."""
    return await mail_outbox.queue_digests(ctx.pool, _settings(ctx), ctx.clock.now())


async def run_timers(ctx: ServiceContext) -> TimersRun:
    """Every timer once, at the clock's current instant."""
    return TimersRun(
        escalated=await escalate_unacknowledged(ctx),
        reminded=await wake_snoozed(ctx),
        incomplete_files=await alert_incomplete_files(ctx),
        digests=await write_digests(ctx),
    )
