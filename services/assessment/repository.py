"""SQL for assessment's own tables: the assessments and their audit trail."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

import asyncpg

from services.assessment.domain.assessment import Assessment, AuditEntry, DirectoryTerms, Status
from shared.db import keep_newest, limit_offset, with_equalities
from shared.events import DirectoryAssociationData, DirectoryBankData, DirectoryNetworkData
from shared.events.envelope import Envelope
from shared.outbox import outboxed, outboxed_arguments
from shared.privacy.access import rows as privacy_rows
from shared.privacy.erasure import ERASED_TEXT

_FIELDS = tuple(Assessment.model_fields)
_JSON_FIELDS = frozenset({
    "project", "documents", "household", "resources", "charges", "diagnostic", "checks", "ficp", "reason_codes",
    "missing_items",
})
_UPSERT = (
    f"insert into assessments ({', '.join(_FIELDS)}) values ("
    + ", ".join(f"${i}::jsonb" if f in _JSON_FIELDS else f"${i}" for i, f in enumerate(_FIELDS, start=1))
    + ") on conflict (application_id) do update set "
    + ", ".join(f"{f} = excluded.{f}" for f in _FIELDS if f != "application_id")
)


def _audit_insert(first: int, *, only_if_written: bool = False) -> str:
    """Append the audit entries of six arrays (parameters `first` to `first + 5`) in their order (only if the CTE
    `written` wrote a row, with `only_if_written`)."""
    a, t, who, role, act, d = (f"${i}" for i in range(first, first + 6))
    written = " where exists (select from written)" if only_if_written else ""
    return (
        "insert into assessment_audit (application_id, at, actor, actor_role, action, details)"
        f" select a, t, who, r, act, d from unnest({a}::uuid[], {t}::timestamptz[], {who}::text[], {role}::text[],"
        f" {act}::text[], {d}::jsonb[]) with ordinality as e(a, t, who, r, act, d, n){written} order by n"
    )


_UPSERT_WITH_AUDIT = f"with saved as ({_UPSERT} returning 1) {_audit_insert(len(_FIELDS) + 1)}"
Connection = asyncpg.Connection | asyncpg.Pool


def _row(assessment: Assessment) -> list[Any]:
    plain, as_json = assessment.model_dump(), assessment.model_dump(mode="json")
    return [json.dumps(as_json[f]) if f in _JSON_FIELDS else plain[f] for f in _FIELDS]


def _assessment(row: asyncpg.Record) -> Assessment:
    values = dict(row)
    for f in _JSON_FIELDS:
        if isinstance(values.get(f), str):
            values[f] = json.loads(values[f])
    return Assessment.model_validate({f: values[f] for f in _FIELDS})


async def save(conn: asyncpg.Connection, assessment: Assessment, audit: tuple[AuditEntry, ...] = ()) -> None:
    """Insert or update an assessment, and append its audit entries in the same statement."""
    if not audit:
        await conn.execute(_UPSERT, *_row(assessment))
        return
    await conn.execute(_UPSERT_WITH_AUDIT, *_row(assessment), *_audit_columns(audit))


async def store(
    conn: asyncpg.Connection, assessment: Assessment, audit: tuple[AuditEntry, ...], events: tuple[Envelope[Any], ...],
    *, version: int,
) -> bool:
    """Write a command's change in one statement: the file, its audit entries, its events and the relay's wake-up.

    The file read at `version` (`get_versioned`) is updated only if its row is still that version: False, and
    nothing written, when it changed meanwhile. One statement is its own transaction: no BEGIN and COMMIT round
    trips, no row lock held between two of them. Events with personal fields first get the applicant's data key.
    """
    args: list[Any] = [*_row(assessment), version]
    if audit:
        args += _audit_columns(audit)
    if events:
        args += await outboxed_arguments(conn, events)
    return await conn.fetchval(_store_sql(bool(audit), bool(events)), *args) is not None


@cache
def _store_sql(audit: bool, events: bool) -> str:
    """The statement `store` sends for one shape of change (four texts, each prepared once per connection)."""
    n = len(_FIELDS)
    key = _FIELDS.index("application_id") + 1
    assignments = ", ".join(
        f"{f} = ${i}{'::jsonb' if f in _JSON_FIELDS else ''}" for i, f in enumerate(_FIELDS, start=1) if f != "application_id"
    )
    clauses = [f"written as (update assessments set {assignments} where application_id = ${key} and xmin = ${n + 1} returning 1)"]
    p = n + 2  # the next parameter's number
    if audit:
        clauses.append(f"audit as ({_audit_insert(p, only_if_written=True)})")
        p += 6
    if events:
        clauses.append(outboxed(p))
    return f"with {', '.join(clauses)} select 1 from written"


async def save_many(conn: asyncpg.Connection, saved: Sequence[tuple[Assessment, tuple[AuditEntry, ...]]]) -> None:
    """`save` for several assessments in one pipelined round trip (those with audit entries first, in order)."""
    with_audit = [[*_row(a), *_audit_columns(audit)] for a, audit in saved if audit]
    without = [_row(a) for a, audit in saved if not audit]
    if with_audit:
        await conn.executemany(_UPSERT_WITH_AUDIT, with_audit)
    if without:
        await conn.executemany(_UPSERT, without)


async def get_versioned(conn: Connection, application_id: UUID) -> tuple[Assessment, int] | None:
    """One assessment and the version of its row (Postgres' `xmin`), which `store` checks; None if unknown."""
    row = await conn.fetchrow("select xmin as row_version, * from assessments where application_id = $1", application_id)
    return (_assessment(row), row["row_version"]) if row else None


async def get(conn: Connection, application_id: UUID, *, for_update: bool = False) -> Assessment | None:
    """One assessment, optionally locked for the rest of the transaction."""
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(f"select * from assessments where application_id = $1{lock}", application_id)
    return _assessment(row) if row else None


async def queue(
    conn: Connection, *, association_id: str, counsellor_id: str | None, status: Status | None, limit: int, offset: int
) -> list[Assessment]:
    """An association's files (one counsellor's when given), oldest first, optionally in one state.

    The WHERE clause names only the filters given: each queue then reads a page of one index in order
    (`migrations/005_lists_in_order.sql`), which a generic `$n is null or …` would not let the planner do.
    """
    where, args = with_equalities(
        "association_id = $1", [association_id], counsellor_id=counsellor_id, status=status.value if status else None
    )
    rows = await conn.fetch(
        f"select * from assessments where {where} order by received_at, application_id{limit_offset(args)}",
        *args, limit, offset,
    )
    return [_assessment(r) for r in rows]


async def routed_to(conn: Connection, bank_id: str, *, status: Status | None, limit: int, offset: int) -> list[Assessment]:
    """The files routed to a bank, oldest routing first."""
    where, args = with_equalities("bank_id = $1 and routed_at is not null", [bank_id], status=status.value if status else None)
    rows = await conn.fetch(
        f"select * from assessments where {where} order by routed_at, application_id{limit_offset(args)}",
        *args, limit, offset,
    )
    return [_assessment(r) for r in rows]


async def awaiting_bank_since(conn: asyncpg.Connection, routed_before: datetime, *, limit: int) -> list[Assessment]:
    """Routed files without a decision nor an overdue alert, routed before the cut-off; locked, skipping busy ones."""
    rows = await conn.fetch(
        "select * from assessments where status = 'routed' and overdue_raised_at is null and routed_at <= $1"
        " order by routed_at limit $2 for update skip locked",
        routed_before, limit,
    )
    return [_assessment(r) for r in rows]


def _audit_columns(entries: tuple[AuditEntry, ...]) -> list[list[Any]]:
    return [
        [e.application_id for e in entries], [e.at for e in entries], [e.actor for e in entries],
        [e.actor_role for e in entries], [e.action for e in entries],
        [json.dumps(e.model_dump(mode="json")["details"]) for e in entries],
    ]


async def audit_trail(conn: Connection, application_id: UUID) -> list[AuditEntry]:
    """A file's audit trail, in the order the changes happened."""
    rows = await conn.fetch(
        "select application_id, at, actor, actor_role, action, details from assessment_audit"
        " where application_id = $1 order by id",
        application_id,
    )
    return [AuditEntry.model_validate({**dict(r), "details": json.loads(r["details"])}) for r in rows]


# --- the copy of the directory: the newest version of each entity wins --------------------------------


async def subject_records(conn: Connection, application_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """What assessment holds about the applicant of one file (right of access): the assessment and its audit trail."""
    return {
        "assessments": await privacy_rows(conn, "select * from assessments where application_id = $1", application_id),
        "assessment_audit": await privacy_rows(
            conn, "select * from assessment_audit where application_id = $1 order by id", application_id
        ),
    }


async def keep_network(conn: asyncpg.Connection, n: DirectoryNetworkData) -> None:
    """A network's thresholds, unless a newer version is kept already."""
    await keep_newest(conn, "directory_networks", "network_id", n.model_dump(
        include={"network_id", "min_remaining_per_unit_cents", "max_instalment_share", "version"}))


async def keep_association(conn: asyncpg.Connection, a: DirectoryAssociationData) -> None:
    """An association's network, partner banks and contact for banks, unless a newer version is kept already."""
    await keep_newest(conn, "directory_associations", "association_id", a.model_dump(
        include={"association_id", "network_id", "partner_banks", "bank_contact", "active", "version"}))


async def keep_bank(conn: asyncpg.Connection, b: DirectoryBankData) -> None:
    """Whether a bank is active, unless a newer version is kept already."""
    await keep_newest(conn, "directory_banks", "bank_id", b.model_dump(include={"bank_id", "active", "version"}))


_TERMS_OF = (
    "select true as found, n.min_remaining_per_unit_cents, n.max_instalment_share, array("
    "   select p.bank_id from unnest(a.partner_banks) with ordinality p(bank_id, n)"
    "   join directory_banks b using (bank_id) where b.active and a.active order by p.n"
    " ) as partner_banks"
    " from directory_associations a left join directory_networks n using (network_id) where a.association_id = {}"
)
_TERMS = _TERMS_OF.format("$1")


def _terms(row: asyncpg.Record | None) -> DirectoryTerms:
    if row is None or not row["found"]:
        return DirectoryTerms()
    return DirectoryTerms(row["min_remaining_per_unit_cents"], row["max_instalment_share"], tuple(row["partner_banks"]))


async def directory_terms(conn: Connection, association_id: str) -> DirectoryTerms:
    """The association's network thresholds and its partner banks that are active (none if the association is not)."""
    return _terms(await conn.fetchrow(_TERMS, association_id))


async def openings(
    conn: Connection, application_ids: Collection[UUID], association_ids: Collection[str]
) -> tuple[set[UUID], dict[str, DirectoryTerms]]:
    """What opening several files needs, in one round trip: those opened already, and each association's terms."""
    rows = await conn.fetch(
        "select ids.association_id, array(select application_id from assessments where application_id = any($1::uuid[]))"
        " as opened, t.* from unnest($2::text[]) as ids(association_id)"
        f" left join lateral ({_TERMS_OF.format('ids.association_id')}) as t on true",
        list(application_ids), list(association_ids),
    )
    opened = set(rows[0]["opened"]) if rows else set()
    return opened, {r["association_id"]: _terms(r) for r in rows}


async def bank_contacts(conn: Connection, association_ids: set[str]) -> dict[str, str]:
    """The contact each association gives its partner banks (those it has)."""
    rows = await conn.fetch(
        "select association_id, bank_contact from directory_associations"
        " where association_id = any($1::text[]) and bank_contact is not null",
        list(association_ids),
    )
    return {r["association_id"]: r["bank_contact"] for r in rows}


# The amounts of the loan asked, proposed and approved stay (the portfolio's figures); the budget, the opinion, the
# justifications and everything that describes the person go. The diagnostic keeps only the instalment.
_ERASE = f"""
update assessments set
    applicant_name = null, birth_date = null, project = null, documents = null, incomplete_reason = null,
    household = null, resources = null, charges = null, monthly_resources_cents = 0, monthly_charges_cents = 0,
    remaining_after_instalment_cents = 0,
    diagnostic = jsonb_build_object(
        'monthly_resources_cents', 0, 'monthly_charges_cents', 0,
        'monthly_instalment_cents', diagnostic -> 'monthly_instalment_cents', 'remaining_after_instalment_cents', 0),
    checks = '[]', ficp = null,
    opinion = case when opinion is null then null else '{ERASED_TEXT}' end,
    orientation = case when orientation is null then null else '{ERASED_TEXT}' end,
    decision_reason = case when decision_reason is null then null else '{ERASED_TEXT}' end,
    erased_at = $2
where application_id = $1 and erased_at is null
returning application_id
"""


async def erase(conn: asyncpg.Connection, application_id: UUID, at: datetime) -> bool:
    """Remove the person from the assessment and pseudonymise its audit trail; False when already done or unknown."""
    if await conn.fetchval(_ERASE, application_id, at) is None:
        return False
    await conn.execute("update assessment_audit set details = '{}'::jsonb where application_id = $1", application_id)
    return True


async def add_audit(conn: asyncpg.Connection, entry: AuditEntry) -> None:
    """Append one audit entry."""
    await conn.execute(_audit_insert(1), *_audit_columns((entry,)))


async def is_erased(conn: Connection, application_id: UUID) -> bool:
    """Whether the file's person was erased."""
    return bool(await conn.fetchval("select erased_at is not null from assessments where application_id = $1", application_id))
