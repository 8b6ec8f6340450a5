"""SQL of the alerts group: alerts (once per cause and audience, the inbox, the timers' due rows) and what the rules keep of
other services' facts (loans' follow-up, files' bank and applicant, incomplete files)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.notifications.alerts.domain import Alert
from services.notifications.alerts.rules import IncompleteFile, LoanFollowUp
from shared.db import limit_offset, with_equalities
from shared.http import total_of

_FIELDS = tuple(Alert.model_fields)
_COLUMNS = ", ".join(_FIELDS)
_INSERT = (
    f"insert into alerts ({_COLUMNS}) values ({', '.join(f'${i}' for i in range(1, len(_FIELDS) + 1))})"
    " on conflict do nothing returning true"
)
# What the inbox's actions and the timers may change.
_MUTABLE = (
    "status", "escalate_at", "escalated_at", "acknowledged_at", "acknowledged_by",
    "resolved_at", "resolved_by", "resolution_note", "snoozed_until", "reminded_at",
)
_UPDATE = f"update alerts set {', '.join(f'{c} = ${i}' for i, c in enumerate(_MUTABLE, start=2))} where id = $1"

Connection = asyncpg.Connection | asyncpg.Pool


def _alert(row: asyncpg.Record) -> Alert:
    return Alert(**dict(row))


async def insert(conn: asyncpg.Connection, alert: Alert) -> bool:
    """Store an alert; False if its cause already raised one for that audience."""
    values = alert.model_dump()
    return bool(await conn.fetchval(_INSERT, *(values[f] for f in _FIELDS)))


async def get(conn: Connection, alert_id: UUID, *, for_update: bool = False) -> Alert | None:
    """One alert, or None; `for_update` locks it for the caller's transaction."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"select {_COLUMNS} from alerts where id = $1{lock}", alert_id)
    return _alert(row) if row else None


async def save(conn: asyncpg.Connection, alert: Alert) -> None:
    """Write what an action or a timer changed."""
    values = alert.model_dump()
    await conn.execute(_UPDATE, alert.id, *(values[c] for c in _MUTABLE))


@dataclass(frozen=True)
class InboxQuery:
    """Which alerts of an association to list, and which page."""

    association_id: str
    viewer_counsellor: str | None  # a counsellor sees their own and the shared queue; None for supervisors
    counsellor_id: str | None = None
    status: str | None = None
    severity: str | None = None
    audience: str | None = None
    loan_id: UUID | None = None
    application_id: UUID | None = None
    cause_type: str | None = None
    limit: int = 50
    offset: int = 0


# The filters an inbox query may set beside the association, each an equality on its column.
_FILTERS = ("counsellor_id", "status", "severity", "audience", "loan_id", "application_id", "cause_type")


def _where(q: InboxQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of `q` and its arguments, naming only the filters it sets: the planner then reads a loan's or
    a file's alerts by their index instead of every alert of the association (a generic `$n is null or …` cannot)."""
    where, args = "association_id = $1", [q.association_id]
    if q.viewer_counsellor is not None:
        args.append(q.viewer_counsellor)
        where += " and (audience = 'association' or (audience = 'counsellor' and counsellor_id = $2))"
    where, args = with_equalities(where, args, **{column: getattr(q, column) for column in _FILTERS})
    return " where " + where, args


async def search(conn: Connection, q: InboxQuery) -> tuple[list[Alert], int]:
    """A page of the inbox, newest first, and how many alerts match in all."""
    where, args = _where(q)
    rows = await conn.fetch(
        f"select {_COLUMNS} from alerts{where} order by raised_at desc, id{limit_offset(args)}",
        *args, q.limit, q.offset,
    )
    total = await total_of(len(rows), (q.limit, q.offset), lambda: conn.fetchval(f"select count(*) from alerts{where}", *args))
    return [_alert(r) for r in rows], total


async def due_for_escalation(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Alert]:
    """Open alerts past their escalation deadline, locked (replicas skip each other's)."""
    rows = await conn.fetch(
        f"select {_COLUMNS} from alerts where status = 'open' and escalated_at is null and escalate_at <= $1"
        " order by escalate_at limit $2 for update skip locked",
        now, limit,
    )
    return [_alert(r) for r in rows]


async def due_for_wake_up(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Alert]:
    """Snoozed alerts whose day has come, locked."""
    rows = await conn.fetch(
        f"select {_COLUMNS} from alerts where status = 'snoozed' and snoozed_until <= $1"
        " order by snoozed_until limit $2 for update skip locked",
        now, limit,
    )
    return [_alert(r) for r in rows]


async def many(conn: Connection, alert_ids: list[UUID]) -> list[Alert]:
    """Alerts by id, oldest first."""
    rows = await conn.fetch(f"select {_COLUMNS} from alerts where id = any($1::uuid[]) order by raised_at, id", alert_ids)
    return [_alert(r) for r in rows]


# --- what the rules keep of other services' facts -------------------------------------------------


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


_REMEMBER = (
    "insert into files (application_id, bank_id, applicant_name) values ($1, $2, $3) on conflict (application_id) do update set"
    " bank_id = coalesce(excluded.bank_id, files.bank_id), applicant_name = coalesce(excluded.applicant_name, files.applicant_name)"
)
# A file to remember: its id, its bank and its applicant, as far as they are known (None: unknown, kept as it was).
RememberedFile = tuple[UUID, str | None, str | None]


async def remember_file(conn: asyncpg.Connection, application_id: UUID, *, bank_id: str | None = None, applicant_name: str | None = None) -> None:
    """The file's bank and applicant, as far as they are known."""
    await conn.execute(_REMEMBER, application_id, bank_id, applicant_name)


async def remember_files(conn: asyncpg.Connection, files: Sequence[RememberedFile]) -> None:
    """`remember_file` for several files in one pipelined round trip, in order (the same file twice: one after the other)."""
    if files:
        await conn.executemany(_REMEMBER, files)


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
