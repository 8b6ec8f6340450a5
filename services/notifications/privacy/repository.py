"""What notifications holds about the applicant of one file (right of access), found through the file and its loan."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from shared.privacy.access import rows

Connection = asyncpg.Connection | asyncpg.Pool

# The file's loan, as notifications learnt it (an alert about a loan may name only the loan).
_LOANS = "select loan_id from loan_followups where application_id = $1::uuid"
_ALERTS = f"select id from alerts where application_id = $1 or loan_id in ({_LOANS})"
# A webhook's body is the event sent to the bank: about the file when it names the file or its loan.
_WEBHOOKS = (
    "select d.id, d.subscription_id, s.bank_id, d.event_id, d.event_type, d.status, d.attempts, d.last_status_code,"
    " d.last_error, d.created_at, d.delivered_at, convert_from(d.body, 'UTF8')::jsonb as body"
    " from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id"
    " where convert_from(d.body, 'UTF8')::jsonb -> 'data' ->> 'application_id' = $1::uuid::text"
    f" or (convert_from(d.body, 'UTF8')::jsonb -> 'data' ->> 'loan_id')::uuid in ({_LOANS}) order by d.created_at"
)


async def subject_records(conn: Connection, application_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """The file as notifications knows it, its loan's follow-up, its alerts, and the e-mails and webhooks sent about them."""
    return {
        "files": await rows(conn, "select * from files where application_id = $1", application_id),
        "incomplete_files": await rows(conn, "select * from incomplete_files where application_id = $1", application_id),
        "loan_followups": await rows(conn, "select * from loan_followups where application_id = $1", application_id),
        "alerts": await rows(conn, f"select * from alerts where id in ({_ALERTS}) order by raised_at", application_id),
        "digest_items": await rows(conn, f"select * from digest_items where alert_id in ({_ALERTS}) order by added_at", application_id),
        "email_deliveries": await rows(
            conn, f"select * from email_deliveries where alert_id in ({_ALERTS}) order by created_at", application_id
        ),
        "webhook_deliveries": await rows(conn, _WEBHOOKS, application_id),
    }
