"""What servicing holds about the applicant of one file (right of access): the loan and everything hanging from it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from shared.privacy.access import rows

Connection = asyncpg.Connection | asyncpg.Pool

_OF_THE_LOAN = "loan_id in (select id from loans where application_id = $1)"


async def subject_records(conn: Connection, application_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """The file's loan, its schedule and its versions, its payments, missed instalments and adjustments."""
    return {
        "loans": await rows(conn, "select * from loans where application_id = $1", application_id),
        "instalments": await rows(conn, f"select * from instalments where {_OF_THE_LOAN} order by number", application_id),
        "schedule_versions": await rows(conn, f"select * from schedule_versions where {_OF_THE_LOAN} order by version", application_id),
        "payments": await rows(conn, f"select * from payments where {_OF_THE_LOAN} order by received_on, recorded_at", application_id),
        "missed_instalments": await rows(conn, f"select * from missed_instalments where {_OF_THE_LOAN} order by number", application_id),
        "adjustments": await rows(conn, f"select * from adjustments where {_OF_THE_LOAN} order by requested_at", application_id),
    }
