"""SQL for intake's own tables: first contacts, files, their audit trail and the funnel's milestones."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from services.intake.domain import (
    CONTACT_COUNTS, STAGES, Application, AuditEntry, Change, FirstContact, FunnelRow, Milestone, Status,
)
from shared.db import limit_offset, with_equalities
from shared.http import total_of
from shared.outbox import outboxed, outboxed_arguments
from shared.privacy.access import rows as privacy_rows
from shared.privacy.erasure import ERASED_FIRST_NAME, ERASED_LAST_NAME, ERASED_NAME, ERASED_TEXT

Connection = asyncpg.Connection | asyncpg.Pool

_JSON = ("applicant", "household", "resources", "charges", "project", "documents")
_COLUMNS = (
    "id", "status", "association_id", "region", "branch_id", "counsellor_id", "applicant", "household", "resources",
    "charges", "project", "amount_cents", "duration_months", "referral_source", "documents", "incomplete_reason",
    "created_at", "created_by", "updated_at", "submitted_at", "withdrawn_at", "withdrawal_reason", "withdrawn_by",
    "decided_at",
    # Kept as columns for queries and for rows written before the full form.
    "applicant_name", "purpose", "monthly_resources_cents", "monthly_charges_cents",
)
_PLACEHOLDERS = ", ".join(f"${i}::jsonb" if c in _JSON else f"${i}" for i, c in enumerate(_COLUMNS, start=1))
_SELECT = f"select {', '.join(_COLUMNS)} from applications"
_VERSIONED_SELECT = f"select xmin as row_version, erased_at, restricted_at, {', '.join(_COLUMNS)} from applications"
_JSON_COLUMNS = frozenset(_JSON)


class Versioned(NamedTuple):
    """A file as read for a change: its row's version, and whether its person's rights freeze it."""

    application: Application
    version: int
    erased_at: datetime | None
    restricted_at: datetime | None


def _row(application: Application) -> list[Any]:
    values = application.model_dump(mode="json", include=set(_COLUMNS) - {"applicant_name", "purpose"})
    raw = application.model_dump(include={"id", "created_at", "updated_at", "submitted_at", "withdrawn_at", "decided_at"})
    values.update(raw)
    values["applicant_name"] = application.applicant.full_name
    values["purpose"] = application.project.purpose.value if application.project else None
    return [json.dumps(values[c]) if c in _JSON else values[c] for c in _COLUMNS]


def _application(row: asyncpg.Record) -> Application:
    values = dict(row)
    for column in _JSON:
        values[column] = json.loads(values[column]) if values[column] is not None else None
    values["resources"] = values["resources"] or {}
    values["charges"] = values["charges"] or {}
    values["documents"] = values["documents"] or {}
    return Application.model_validate(values)


async def get_versioned(
    conn: Connection, application_id: UUID, *, association_id: str | None, for_update: bool = False
) -> Versioned | None:
    """One of the association's files (any file with None), the version of its row (Postgres' `xmin`), which `store`
    checks, and when its person was erased and since when its processing is restricted (each None if not); locked for
    the transaction with `for_update` (then no one else changes it before `store`)."""
    ours = " and association_id = $2" if association_id is not None else ""
    lock = " for update" if for_update else ""
    args = (application_id, association_id) if association_id is not None else (application_id,)
    row = await conn.fetchrow(f"{_VERSIONED_SELECT} where id = $1{ours}{lock}", *args)
    if row is None:
        return None
    values = dict(row)
    version, erased_at, restricted_at = values.pop("row_version"), values.pop("erased_at"), values.pop("restricted_at")
    return Versioned(_application(values), version, erased_at, restricted_at)


async def store(conn: Connection, change: Change, *, version: int | None = None) -> bool:
    """Write a change in one statement: the file, its audit line, its milestone, its events and the relay's wake-up.

    A new file (`version` None) is inserted; a file read at `version` (`get_versioned`) is updated only if
    its row is still that version: False, and nothing written, when it changed meanwhile. One statement is
    its own transaction: no BEGIN and COMMIT round trips, no row lock held between two of them. Events with
    personal fields first get the applicant's data key (one statement, made on first use) to seal them.
    """
    application, audit = change.application, change.audit
    args: list[Any] = [*_row(application), audit.at, audit.actor.subject, audit.actor.role, audit.action, json.dumps(audit.details)]
    if version is not None:
        args.append(version)
    if change.milestone is not None:
        args.append(change.milestone.value)
    if change.events:
        args += await outboxed_arguments(conn, change.events)  # the personal fields sealed with the applicant's key
    return await conn.fetchval(_store_sql(version is not None, change.milestone is not None, bool(change.events)), *args) is not None


@cache
def _store_sql(update: bool, milestone: bool, events: bool) -> str:
    """The statement `store` sends for one shape of change (at most eight texts, each prepared once per connection)."""
    n = len(_COLUMNS)
    if update:
        assignments = ", ".join(f"{c} = ${i}{'::jsonb' if c in _JSON_COLUMNS else ''}" for i, c in enumerate(_COLUMNS, 1) if c != "id")
        written = f"update applications set {assignments} where id = $1 and xmin = ${n + 6} returning id, association_id, region"
    else:
        written = f"insert into applications ({', '.join(_COLUMNS)}) values ({_PLACEHOLDERS}) returning id, association_id, region"
    p = n + 6 + update  # the next parameter's number
    clauses = [
        f"written as ({written})",
        "audit as (insert into audit_log (application_id, at, actor_subject, actor_role, action, details)"
        f" select id, ${n + 1}::timestamptz, ${n + 2}::text, ${n + 3}::text, ${n + 4}::text, ${n + 5}::jsonb from written)",
    ]
    if milestone:
        clauses.append(
            "milestone as (insert into milestones (application_id, milestone, at, association_id, region)"
            f" select id, ${p}::text, ${n + 1}::timestamptz, association_id, region from written"
            " on conflict (application_id, milestone) do nothing)"
        )
        p += 1
    if events:
        clauses.append(outboxed(p))  # the rows `add_to_outbox` would store, and the relay's wake-up
    return f"with {', '.join(clauses)} select id from written"


async def get(conn: Connection, application_id: UUID, *, association_id: str | None = None) -> Application | None:
    """One file (only if it belongs to `association_id`, when given)."""
    row = await conn.fetchrow(f"{_SELECT} where id = $1 and ($2::text is null or association_id = $2)", application_id, association_id)
    return _application(row) if row else None


async def list_files(
    conn: Connection, *, association_id: str, counsellor_id: str | None, status: Status | None, limit: int, offset: int
) -> list[Application]:
    """An association's files (or one counsellor's), newest first.

    The WHERE clause names only the filters given: each list then reads a page of one index in order
    (`migrations/005_lists_newest_first.sql`), which a generic `$n is null or …` would not let the planner do.
    """
    where, args = with_equalities(
        "association_id = $1", [association_id], counsellor_id=counsellor_id, status=status.value if status else None
    )
    rows = await conn.fetch(
        f"{_SELECT} where {where} order by created_at desc, id desc{limit_offset(args)}",
        *args, limit, offset,
    )
    return [_application(r) for r in rows]


_CONTACT_COLUMNS = tuple(FirstContact.model_fields)
_CONTACT_SELECT = f"select {', '.join(_CONTACT_COLUMNS)} from contacts"


async def add_contact(conn: asyncpg.Connection, contact: FirstContact) -> None:
    """Store a first contact."""
    # Enums as their text, dates and instants as they are.
    values = {**contact.model_dump(), **contact.model_dump(mode="json", include={"referral_source", "outcome", "reason"})}
    await conn.execute(
        f"insert into contacts ({', '.join(_CONTACT_COLUMNS)})"
        f" values ({', '.join(f'${i}' for i in range(1, len(_CONTACT_COLUMNS) + 1))})",
        *(values[c] for c in _CONTACT_COLUMNS),
    )


async def list_contacts(conn: Connection, *, association_id: str, limit: int, offset: int) -> tuple[list[FirstContact], int]:
    """An association's first contacts, newest first, and how many it has in all."""
    rows = await conn.fetch(
        f"{_CONTACT_SELECT} where association_id = $1 order by created_at desc, id limit $2 offset $3",
        association_id, limit, offset,
    )
    total = await total_of(
        len(rows), (limit, offset), lambda: conn.fetchval("select count(*) from contacts where association_id = $1", association_id)
    )
    return [FirstContact.model_validate(dict(r)) for r in rows], total


async def add_audit(conn: asyncpg.Connection, application_id: UUID, entry: AuditEntry) -> None:
    """Append one line to a file's audit trail."""
    await conn.execute(
        "insert into audit_log (application_id, at, actor_subject, actor_role, action, details)"
        " values ($1, $2, $3, $4, $5, $6::jsonb)",
        application_id, entry.at, entry.actor.subject, entry.actor.role, entry.action, json.dumps(entry.details),
    )


async def audit_trail(conn: Connection, application_id: UUID) -> list[dict[str, Any]]:
    """A file's audit trail, oldest first."""
    rows = await conn.fetch(
        "select at, actor_subject, actor_role, action, details from audit_log where application_id = $1 order by at, id",
        application_id,
    )
    return [{**dict(r), "details": json.loads(r["details"])} for r in rows]


async def subject_records(conn: Connection, application_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """What intake holds about the applicant of one file (right of access): the file, its audit trail, its milestones."""
    return {
        "applications": await privacy_rows(conn, "select * from applications where id = $1", application_id),
        "audit_log": await privacy_rows(conn, "select * from audit_log where application_id = $1 order by at, id", application_id),
        "milestones": await privacy_rows(conn, "select * from milestones where application_id = $1 order by at", application_id),
    }


async def find_subjects(conn: Connection, *, name: str | None, birth_date: date | None, limit: int) -> list[dict[str, Any]]:
    """The files whose applicant has every word of `name` in their name (any case) and, when given, was born on `birth_date`."""
    words = [f"%{_literal(w)}%" for w in (name or "").split()]
    return await privacy_rows(
        conn,
        "select id as application_id, applicant_name, (applicant ->> 'birth_date')::date as birth_date, association_id, region,"
        " counsellor_id, status, created_at, updated_at from applications"
        " where applicant_name ilike all($1::text[]) and ($2::date is null or (applicant ->> 'birth_date')::date = $2)"
        " order by applicant_name, created_at desc limit $3",
        words, birth_date, limit,
    )


def _literal(word: str) -> str:
    """A word matched as typed: `%` and `_` are not wildcards."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def add_milestone(
    conn: asyncpg.Connection, application_id: UUID, milestone: Milestone, at: datetime, *, association_id: str, region: str
) -> None:
    """Date a step of the funnel; the first time a file reaches a step is the one that counts."""
    await conn.execute(
        "insert into milestones (application_id, milestone, at, association_id, region) values ($1, $2, $3, $4, $5)"
        " on conflict (application_id, milestone) do nothing",
        application_id, milestone.value, at, association_id, region,
    )


# Both sources of the funnel, each counted by France's calendar day in the period (the days people choose on
# screen), joined so that a pair with only one of them has a row.
_IN_PERIOD = (
    "{at} >= ($1::date)::timestamp at time zone 'Europe/Paris' and {at} < ($2::date + 1)::timestamp at time zone 'Europe/Paris'"
)
_OWNER = " and ($3::text is null or association_id = $3) and ($4::text is null or region = $4)"
_MILESTONE_COUNTS = ", ".join(f"count(*) filter (where milestone = '{s.value}') as {s.value}" for s in STAGES)
_CONTACT_COUNTS = ", ".join(
    f"count(*) filter (where {'true' if outcome is None else f'outcome = {outcome.value!r}'}) as {name}"
    for name, outcome in CONTACT_COUNTS.items()
)
_FUNNEL = (
    f"with m as (select association_id, region, {_MILESTONE_COUNTS} from milestones"
    f" where {_IN_PERIOD.format(at='at')}{_OWNER} group by association_id, region),"
    f" c as (select association_id, region, {_CONTACT_COUNTS} from contacts"
    f" where {_IN_PERIOD.format(at='created_at')}{_OWNER} group by association_id, region)"
    " select coalesce(m.association_id, c.association_id) as association_id, coalesce(m.region, c.region) as region, "
    + ", ".join(f"coalesce(c.{n}, 0) as {n}" for n in CONTACT_COUNTS) + ", "
    + ", ".join(f"coalesce(m.{s.value}, 0) as {s.value}" for s in STAGES)
    + " from m full join c on m.association_id = c.association_id and m.region = c.region order by 1, 2"
)


async def funnel_rows(
    conn: Connection, start: date, end: date, *, association_id: str | None, region: str | None
) -> list[FunnelRow]:
    """First contacts logged and milestones reached from `start` to `end` (days in France, included), per association and region."""
    rows = await conn.fetch(_FUNNEL, start, end, association_id, region)
    return [FunnelRow(**dict(r)) for r in rows]


_ERASE = f"""
update applications set
    applicant = jsonb_build_object('first_name', '{ERASED_FIRST_NAME}', 'last_name', '{ERASED_LAST_NAME}'),
    applicant_name = '{ERASED_NAME}',
    household = null, resources = '{{}}', charges = '{{}}', monthly_resources_cents = 0, monthly_charges_cents = 0,
    project = case when project is null then null
                   else jsonb_build_object('purpose', project -> 'purpose', 'description', '{ERASED_TEXT}') end,
    documents = '{{}}', incomplete_reason = null,
    withdrawal_reason = case when withdrawal_reason is null then null else '{ERASED_TEXT}' end,
    erased_at = $2
where id = $1 and erased_at is null
returning id
"""


async def erase(conn: asyncpg.Connection, application_id: UUID, at: datetime) -> bool:
    """Remove the person from the file and pseudonymise its audit trail; False when already done (or no such file).

    Kept: ids, association, region, counsellor, status, amount and duration asked, the purpose's category, the
    dates; the milestones (the funnel) are untouched. The audit trail keeps who did what and when (an event's id
    too), nothing of what it said about the person.
    """
    if await conn.fetchval(_ERASE, application_id, at) is None:
        return False
    await conn.execute(
        "update audit_log set details = case when details ? 'event_id'"
        " then jsonb_build_object('event_id', details -> 'event_id') else '{}'::jsonb end"
        " where application_id = $1",
        application_id,
    )
    return True


async def restrict(conn: asyncpg.Connection, application_id: UUID, at: datetime | None) -> None:
    """Restrict the file's processing (`at`) or lift the restriction (None)."""
    await conn.execute("update applications set restricted_at = $2 where id = $1", application_id, at)
