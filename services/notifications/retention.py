"""The notification log kept no longer than the retention rule `notification-log` says (deploy/privacy/retention.toml).

Sent or failed e-mails and webhook deliveries a year (the rule's `keep`) after their sending, resolved alerts a year
after their resolution: erased, with what refers to them (digest lines, webhook attempts). A pending delivery and an
open alert are never erased. The entry in force on the clock's day (in France) applies; before the rules came into
force, nothing is erased. Run twice, the second run finds nothing more.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.notifications.context import Notifications
from shared.privacy.retention import in_force, load_rules

RULE = "notification-log"


class NotificationLog(BaseModel):
    """What the notification log's retention erased."""

    emails_erased: int = Field(0, description="E-mails sent or failed longer ago than the rule keeps them, erased.")
    webhook_deliveries_erased: int = Field(0, description="Webhook deliveries done longer ago than the rule keeps them, erased.")
    alerts_erased: int = Field(0, description="Alerts resolved longer ago than the rule keeps them, erased.")


def _count(status: str) -> int:
    return int(status.split()[-1])


async def forget_old_log(ctx: Notifications) -> NotificationLog:
    """Apply the `notification-log` rule in force today: erase what it no longer lets the platform keep."""
    now = ctx.clock.now()
    rule = in_force(load_rules(), ctx.clock.today()).get(RULE)
    run = NotificationLog()
    if rule is None or rule.then != "erase":
        return run
    async with ctx.pool.acquire() as conn, conn.transaction():
        run.emails_erased = _count(await conn.execute(
            "delete from email_deliveries where status <> 'pending' and coalesce(sent_at, created_at) + $2::text::interval <= $1",
            now, rule.keep,
        ))
        done = "status <> 'pending' and coalesce(delivered_at, created_at) + $2::text::interval <= $1"
        await conn.execute(
            f"delete from webhook_attempts where delivery_id in (select id from webhook_deliveries where {done})", now, rule.keep,
        )
        run.webhook_deliveries_erased = _count(await conn.execute(f"delete from webhook_deliveries where {done}", now, rule.keep))
        old = "resolved_at + $2::text::interval <= $1"
        await conn.execute(f"delete from digest_items where alert_id in (select id from alerts where {old})", now, rule.keep)
        run.alerts_erased = _count(await conn.execute(f"delete from alerts where {old}", now, rule.keep))
    return run
