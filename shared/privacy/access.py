"""The right of access (RGPD art. 15): what one service holds about one data subject, read as it is stored.

Each service that holds rows about a file answers `GET /v1/privacy/subjects/{application_id}` (the DPO
only) with `{"service", "subject_id", "records": {table: [row, …]}}`; its repository says which rows are
the subject's (`subject_records`), this module reads them and builds the route, and adds what the
service's plumbing keeps that names the file or its loan: dead letters and parked events (their payload
is an event about the person), the answers kept for retried requests. Rows are read as
Postgres' own JSON of the row (`to_jsonb`), so that a column added later is exported without a change
here; numbers with a fraction (rates, shares) stay exact as text, never a float.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from shared.auth import Dpo

Row = dict[str, Any]
Records = dict[str, list[Row]]
PATH = "/v1/privacy/subjects/{application_id}"


class SubjectRecords(BaseModel):
    """Everything one service holds about one data subject (the applicant of one file)."""

    service: str = Field(description="The service that holds these rows.")
    subject_id: UUID = Field(description="The data subject: the file's `application_id`.")
    records: Records = Field(description="Per table of the service, the subject's rows as stored (none: an empty list).")


def _exact(number: str) -> Any:
    return number  # a fraction stays the text Postgres wrote (`0.035`), never a binary float


async def rows(conn: asyncpg.Connection | asyncpg.Pool, query: str, *args: Any) -> list[Row]:
    """The rows `query` selects, each as the JSON object of its columns."""
    found = await conn.fetch(f"select to_jsonb(r)::text as row from ({query}) r", *args)
    return [json.loads(record["row"], parse_float=_exact) for record in found]


# The plumbing every service has (shared/sql): rows that name one of the subject's ids, in their key or payload.
_DEAD_LETTERS = (
    "select id, consumer_group, reason, detail, original_topic, event_type, event_id, dead_lettered_at, status, key, value"
    " from dead_letters where key = any($1::bytea[]) or exists (select from unnest($1::bytea[]) n where position(n in value) > 0)"
    " order by dead_lettered_at"
)
_PARKED = (
    "select id, consumer, key, event_id, event_type, topic, reason, parked_at, attempts, payload from parked_events"
    " where key = any($2::text[]) or exists (select from unnest($1::bytea[]) n where position(n in payload) > 0) order by id"
)
_KEPT_ANSWERS = (
    "select caller, path, status, expires_at, body from idempotency_keys"
    " where exists (select from unnest($2::text[]) i where position(i in path) > 0)"
    " or exists (select from unnest($1::bytea[]) n where position(n in coalesce(body, ''::bytea)) > 0) order by expires_at"
)


def _readable(raw: bytes | None) -> Any:
    """A payload as a person can read it: its JSON when it is JSON, else its text (bytes that are not text replaced)."""
    if raw is None:
        return None
    decoded = bytes(raw).decode("utf-8", errors="replace")
    try:
        return json.loads(decoded, parse_float=_exact)
    except ValueError:
        return decoded


def _plain(value: Any) -> Any:
    """A column's value as JSON has it: bytes read as text or JSON, instants in ISO 8601, ids as text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _readable(bytes(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value) if isinstance(value, UUID) else value


def _ids(application_id: UUID, records: Records) -> list[str]:
    """The subject's ids in this service: the file's, and its loan's (the key of the loans' events)."""
    ids = {str(application_id)}
    for table, found in records.items():
        for row in found:
            if row.get("loan_id"):
                ids.add(str(row["loan_id"]))
            if table == "loans" and row.get("id"):
                ids.add(str(row["id"]))
    return sorted(ids)


async def plumbing_records(conn: asyncpg.Connection | asyncpg.Pool, ids: list[str]) -> Records:
    """The dead letters, parked events and kept answers of the service that name one of `ids`."""
    needles = [i.encode() for i in ids]
    found: Records = {}
    for table, query in (("dead_letters", _DEAD_LETTERS), ("parked_events", _PARKED), ("idempotency_keys", _KEPT_ANSWERS)):
        rows_ = await conn.fetch(query, needles, ids) if "$2" in query else await conn.fetch(query, needles)
        found[table] = [{k: _plain(v) for k, v in row.items()} for row in rows_]
    return found


def access_router(
    service: str, read: Callable[[asyncpg.Pool, UUID], Awaitable[Records]], *, tag: str = "privacy"
) -> APIRouter:
    """The route of the right of access of `service`, reading the subject's rows with `read(pool, application_id)`."""
    router = APIRouter(tags=[tag])

    @router.get(PATH, response_model=SubjectRecords, summary="Everything this service holds about a data subject (DPO)")
    async def subject_records(application_id: UUID, request: Request, principal: Dpo) -> SubjectRecords:
        """The subject's rows in every table of the service, for the DPO's export (right of access, RGPD art. 15).

        An unknown subject answers 200 with empty lists: that this service holds nothing is an answer too."""
        pool = request.app.state.ctx.pool
        records = await read(pool, application_id)
        records.update(await plumbing_records(pool, _ids(application_id, records)))
        return SubjectRecords(service=service, subject_id=application_id, records=records)

    return router
