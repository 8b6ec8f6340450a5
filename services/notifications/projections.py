"""What notifications keeps of other services' facts: loans' stages, files' banks and names, incomplete files."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.notifications.rules import IncompleteFile, LoanFollowUp

Connection = asyncpg.Connection | asyncpg.Pool


async def followup(conn: asyncpg.Connection, loan_id: UUID) -> LoanFollowUp:
    """The loan's follow-up, locked for the caller's transaction (a fresh one if the loan is new here)."""
    row = await conn.fetchrow(
        "select loan_id, application_id, stage, days_past_due, stage_as_of, last_missed_instalment, missed_streak"
        " from loan_followups where loan_id = $1 for update",
        loan_id,
    )
    return LoanFollowUp(**dict(row)) if row else LoanFollowUp(loan_id=loan_id)


async def save_followup(conn: asyncpg.Connection, f: LoanFollowUp) -> None:
    """Store the loan's follow-up."""
    await conn.execute(
        "insert into loan_followups (loan_id, application_id, stage, days_past_due, stage_as_of, last_missed_instalment, missed_streak)"
        " values ($1, $2, $3, $4, $5, $6, $7) on conflict (loan_id) do update set"
        " application_id = coalesce(excluded.application_id, loan_followups.application_id), stage = excluded.stage,"
        " days_past_due = excluded.days_past_due, stage_as_of = excluded.stage_as_of,"
        " last_missed_instalment = excluded.last_missed_instalment, missed_streak = excluded.missed_streak",
        f.loan_id, f.application_id, f.stage, f.days_past_due, f.stage_as_of, f.last_missed_instalment, f.missed_streak,
    )


async def remember_loan(conn: asyncpg.Connection, loan_id: UUID, application_id: UUID) -> None:
    """Which file a loan was lent on (to route its events to the bank)."""
    await conn.execute(
        "insert into loan_followups (loan_id, application_id, stage, days_past_due, missed_streak) values ($1, $2, 'current', 0, 0)"
        " on conflict (loan_id) do update set application_id = coalesce(loan_followups.application_id, excluded.application_id)",
        loan_id, application_id,
    )


async def remember_file(conn: asyncpg.Connection, application_id: UUID, *, bank_id: str | None = None, applicant_name: str | None = None) -> None:
    """The file's bank and applicant, as far as they are known."""
    await conn.execute(
        "insert into files (application_id, bank_id, applicant_name) values ($1, $2, $3) on conflict (application_id) do update set"
        " bank_id = coalesce(excluded.bank_id, files.bank_id), applicant_name = coalesce(excluded.applicant_name, files.applicant_name)",
        application_id, bank_id, applicant_name,
    )


async def bank_of_file(conn: Connection, application_id: UUID) -> str | None:
    """The bank a file was routed to, if known."""
    return await conn.fetchval("select bank_id from files where application_id = $1", application_id)


async def bank_of_loan(conn: Connection, loan_id: UUID) -> str | None:
    """The bank that lent a loan, if known."""
    return await conn.fetchval(
        "select f.bank_id from loan_followups l join files f using (application_id) where l.loan_id = $1", loan_id
    )


async def applicant_names(conn: Connection, application_ids: list[UUID]) -> dict[UUID, str]:
    """Applicants' names by file (for the counsellor's e-mails only)."""
    rows = await conn.fetch(
        "select application_id, applicant_name from files where application_id = any($1::uuid[]) and applicant_name is not null",
        application_ids,
    )
    return {r["application_id"]: r["applicant_name"] for r in rows}


async def watch_incomplete(conn: asyncpg.Connection, file: IncompleteFile) -> None:
    """Start (or restart, on a new assessment) watching an incomplete file."""
    await conn.execute(
        "insert into incomplete_files (application_id, association_id, region, counsellor_id, assessed_event_id, missing_documents, since)"
        " values ($1, $2, $3, $4, $5, $6, $7) on conflict (application_id) do update set"
        " association_id = excluded.association_id, region = excluded.region, counsellor_id = excluded.counsellor_id,"
        " assessed_event_id = excluded.assessed_event_id, missing_documents = excluded.missing_documents,"
        " since = excluded.since, alerted_at = null",
        file.application_id, file.association_id, file.region, file.counsellor_id, file.assessed_event_id,
        list(file.missing_documents), file.since,
    )


async def incomplete(conn: asyncpg.Connection, application_id: UUID) -> IncompleteFile | None:
    """The watched incomplete file, locked, or None."""
    row = await conn.fetchrow("select * from incomplete_files where application_id = $1 for update", application_id)
    return _incomplete(row) if row else None


async def update_missing(conn: asyncpg.Connection, application_id: UUID, missing: tuple[str, ...]) -> None:
    """What the file still lacks."""
    await conn.execute("update incomplete_files set missing_documents = $2 where application_id = $1", application_id, list(missing))


async def stop_watching(conn: asyncpg.Connection, application_id: UUID) -> None:
    """The file is complete, assessed again, routed or withdrawn."""
    await conn.execute("delete from incomplete_files where application_id = $1", application_id)


async def incomplete_due(conn: asyncpg.Connection, since_before: datetime, limit: int) -> list[IncompleteFile]:
    """Incomplete files waiting since before `since_before` whose counsellor was not alerted yet, locked."""
    rows = await conn.fetch(
        "select * from incomplete_files where alerted_at is null and since <= $1 order by since limit $2 for update skip locked",
        since_before, limit,
    )
    return [_incomplete(r) for r in rows]


async def mark_incomplete_alerted(conn: asyncpg.Connection, application_id: UUID, now: datetime) -> None:
    """The counsellor was alerted about this file."""
    await conn.execute("update incomplete_files set alerted_at = $2 where application_id = $1", application_id, now)


def _incomplete(row: asyncpg.Record) -> IncompleteFile:
    values = dict(row)
    values.pop("alerted_at", None)
    values["missing_documents"] = tuple(values["missing_documents"])
    return IncompleteFile(**values)
