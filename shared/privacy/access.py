"""The right of access (RGPD art. 15): what one service holds about one data subject, read as it is stored.

Each service that holds rows about a file answers `GET /v1/privacy/subjects/{application_id}` (the DPO
only) with `{"service", "subject_id", "records": {table: [row, …]}}`; its repository says which rows are
the subject's (`subject_records`), this module reads them and builds the route. Rows are read as
Postgres' own JSON of the row (`to_jsonb`), so that a column added later is exported without a change
here; numbers with a fraction (rates, shares) stay exact as text, never a float.
"""

from __future__ import annotations

import json
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


def access_router(
    service: str, read: Callable[[asyncpg.Pool, UUID], Awaitable[Records]], *, tag: str = "privacy"
) -> APIRouter:
    """The route of the right of access of `service`, reading the subject's rows with `read(pool, application_id)`."""
    router = APIRouter(tags=[tag])

    @router.get(PATH, response_model=SubjectRecords, summary="Everything this service holds about a data subject (DPO)")
    async def subject_records(application_id: UUID, request: Request, principal: Dpo) -> SubjectRecords:
        """The subject's rows in every table of the service, for the DPO's export (right of access, RGPD art. 15).

        An unknown subject answers 200 with empty lists: that this service holds nothing is an answer too."""
        records = await read(request.app.state.ctx.pool, application_id)
        return SubjectRecords(service=service, subject_id=application_id, records=records)

    return router
