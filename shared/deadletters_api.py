"""`/operations/dead-letters`: what ops see of a service's dead letters, and the replay and discard they decide (ops only).

Replaying a selection is `POST /operations/dead-letter-replays`, not `POST /operations/dead-letters/replay`: that
path would also be `GET /operations/dead-letters/{dead_letter_id}` with the id `replay`, a GET the document
does not declare and that would not answer 405.

Mounted by `shared/runtime.py` in every service; the store and the actions are in `shared/deadletters.py`.
"""

# No `from __future__ import annotations`: the routes are built in a function, and FastAPI must see the
# models as objects.
import base64
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from shared import deadletters
from shared.auth import Ops
from shared.fields import FreeText, Identifier
from shared.http import PAGED, TOTAL_COUNT, PageQuery, not_found
from shared.openapi import problems

Status = Literal["pending", "replayed", "discarded"]
Text = Annotated[FreeText, Field(min_length=1, max_length=2000)]


def _written(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank", "write what was done and why: it cannot be blank")
    return text


# Written by a person for the audit: not blank.
Written = Annotated[Text, AfterValidator(_written)]


class DeadLetterSummary(BaseModel):
    """One dead letter of one of the service's consumer groups, as the list shows it."""

    id: UUID
    status: Status = Field(description="`pending` until ops replay or discard it.")
    consumer_group: str = Field(description="The consumer group that gave up on the record.")
    reason: str = Field(description="Why it was dead-lettered (`dlq-reason`).")
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    event_type: str | None = Field(description="From the envelope or the `ce-type` header; null when unreadable.")
    event_id: UUID | None = Field(description="From the envelope or the `ce-id` header; null when unreadable.")
    trace_id: str | None = Field(description="The trace of the failed attempt (from `traceparent`).")
    dead_lettered_at: datetime
    replay_of: UUID | None = Field(description="The dead letter whose replay failed again as this one.")


class AuditEntry(BaseModel):
    """One action of ops on a dead letter."""

    action: Literal["replayed", "discarded"]
    actor: str = Field(description="The token's subject.")
    at: datetime = Field(description="The service clock's instant.")
    why: str | None
    published_partition: int | None = Field(description="A replay: the partition of the original topic it went to.")
    published_offset: int | None = Field(description="A replay: its offset there.")


class DeadLetter(DeadLetterSummary):
    """One dead letter in full: the consumer's detail, the original record and what ops did with it."""

    detail: str = Field(description="The consumer's detail (a traceback for an unexpected error), or empty.")
    dead_letter_topic: str
    dead_letter_partition: int
    dead_letter_offset: int
    key_text: str | None = Field(description="The record's key as UTF-8 text; null when it has none or is not text.")
    key_base64: str | None
    value_text: str | None = Field(description="The record's value as UTF-8 text; null when it is not text.")
    value_base64: str
    value_truncated: bool = Field(
        description="The value is only the start of the payload: the record was too large for the dead-letter topic. "
        "The full record stays at `original_topic[original_partition]@original_offset`, and a replay sends that one."
    )
    original_size: int | None = Field(description="A cut value: the full payload's size in bytes.")
    original_sha256: str | None = Field(description="A cut value: the SHA-256 of the full payload (hex), checked on replay.")
    headers: dict[str, str] = Field(description="The original headers (the `dlq-*` ones are the fields above).")
    audit: list[AuditEntry] = Field(description="Replays and discards, oldest first.")


class ReplayNote(BaseModel):
    """Why the dead letter can be replayed now (optional)."""

    model_config = ConfigDict(extra="forbid")

    note: Written | None = Field(None, description="What was fixed, for the audit.")



class ReplaySelection(BaseModel):
    """Which dead letters to replay: some by id, or every pending one of one exact reason (at most 500 a call)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[UUID] | None = Field(None, min_length=1, max_length=deadletters.MAX_REPLAY, description="Dead letter ids.")
    reason: Text | None = Field(None, description="The exact `reason` of the pending dead letters to replay.")
    note: Written | None = Field(None, description="What was fixed, for the audit.")

    @model_validator(mode="after")
    def _one_selection(self) -> "ReplaySelection":
        if (self.ids is None) == (self.reason is None):
            raise PydanticCustomError("one_selection", "name the dead letters to replay by `ids` or by `reason`, one of the two")
        return self


class Discard(BaseModel):
    """Why the dead letter is set aside for good."""

    model_config = ConfigDict(extra="forbid")

    reason: Written = Field(description="Why it will not be replayed, for the audit.")


_SUMMARY = ", ".join(DeadLetterSummary.model_fields)


def _shown(value: bytes | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    try:
        text: str | None = value.decode()
    except UnicodeDecodeError:
        text = None
    return text, base64.b64encode(value).decode()


async def _read(pool: asyncpg.Pool, dead_letter_id: UUID) -> DeadLetter:
    row = await pool.fetchrow("select * from dead_letters where id = $1", dead_letter_id)
    if row is None:
        raise not_found("dead letter", dead_letter_id)
    audit = await pool.fetch(
        "select action, actor, at, why, published_partition, published_offset from dead_letter_audit"
        " where dead_letter_id = $1 order by id", dead_letter_id,
    )
    key_text, key_base64 = _shown(row["key"])
    value_text, value_base64 = _shown(bytes(row["value"]))
    return DeadLetter(
        **{name: row[name] for name in DeadLetterSummary.model_fields}, detail=row["detail"],
        dead_letter_topic=row["dlq_topic"], dead_letter_partition=row["dlq_partition"], dead_letter_offset=row["dlq_offset"],
        key_text=key_text, key_base64=key_base64, value_text=value_text, value_base64=value_base64 or "",
        value_truncated=row["value_truncated"], original_size=row["original_size"], original_sha256=row["original_sha256"],
        headers={n: bytes(v).decode("utf-8", "replace") for n, v in zip(row["header_names"], row["header_values"])},
        audit=[AuditEntry(**dict(a)) for a in audit],
    )


def dead_letters_router(context: Callable[..., Any]) -> APIRouter:
    """The dead-letter routes of a service whose context the dependency `context` gives."""
    router = APIRouter(prefix="/operations", tags=["operations"])

    @router.get("/dead-letters", response_model=list[DeadLetterSummary], summary="List the dead letters", responses=PAGED)
    async def list_dead_letters(
        _ops: Ops,
        page: PageQuery,
        response: Response,
        ctx: Any = Depends(context),
        group: Annotated[Identifier | None, Query(description="Only this consumer group's.")] = None,
        reason: Annotated[Text | None, Query(description="Only those whose reason contains this text (any case).")] = None,
        status: Annotated[Status | None, Query(description="Only those in this status.")] = None,
    ) -> list[DeadLetterSummary]:
        """The dead letters of the service's consumer groups, newest first."""
        where = "($1::text is null or consumer_group = $1) and ($2::text is null or strpos(lower(reason), lower($2)) > 0)" \
                " and ($3::text is null or status = $3)"
        total = await ctx.pool.fetchval(f"select count(*) from dead_letters where {where}", group, reason, status)
        rows = await ctx.pool.fetch(
            f"select {_SUMMARY} from dead_letters where {where}"
            " order by dead_lettered_at desc, dlq_partition, dlq_offset desc limit $4 offset $5",
            group, reason, status, page.limit, page.offset,
        )
        response.headers[TOTAL_COUNT] = str(total)
        return [DeadLetterSummary(**dict(r)) for r in rows]

    @router.get("/dead-letters/{dead_letter_id}", response_model=DeadLetter, summary="Read a dead letter")
    async def read_dead_letter(dead_letter_id: UUID, _ops: Ops, ctx: Any = Depends(context)) -> DeadLetter:
        """The dead letter, its original record and its audit."""
        return await _read(ctx.pool, dead_letter_id)

    @router.post("/dead-letter-replays", response_model=list[DeadLetterSummary], summary="Replay dead letters", responses=problems(404, 409))
    async def replay_dead_letters(body: ReplaySelection, ops: Ops, ctx: Any = Depends(context)) -> list[DeadLetterSummary]:
        """Replay the dead letters named (all or none: an unknown one 404, one not pending 409), or every
        pending one whose reason is exactly `reason`; what was replayed, in the order it was sent."""
        replayed = await deadletters.replay(ctx, ctx.clock, ops, ids=body.ids, reason=body.reason, why=body.note)
        rows = await ctx.pool.fetch(f"select {_SUMMARY} from dead_letters where id = any($1::uuid[])", replayed)
        by_id = {r["id"]: DeadLetterSummary(**dict(r)) for r in rows}
        return [by_id[i] for i in replayed]

    @router.post("/dead-letters/{dead_letter_id}/replay", response_model=DeadLetter, summary="Replay a dead letter", responses=problems(409))
    async def replay_dead_letter(
        dead_letter_id: UUID, ops: Ops, ctx: Any = Depends(context), body: ReplayNote = ReplayNote()
    ) -> DeadLetter:
        """Send the original record back to its topic (409 unless pending, or when a cut one's original is gone)."""
        await deadletters.replay(ctx, ctx.clock, ops, ids=[dead_letter_id], why=body.note)
        return await _read(ctx.pool, dead_letter_id)

    @router.post("/dead-letters/{dead_letter_id}/discard", response_model=DeadLetter, summary="Discard a dead letter", responses=problems(409))
    async def discard_dead_letter(dead_letter_id: UUID, body: Discard, ops: Ops, ctx: Any = Depends(context)) -> DeadLetter:
        """Set it aside for good, with the written reason (409 unless pending)."""
        await deadletters.discard(ctx, ctx.clock, ops, dead_letter_id, body.reason)
        return await _read(ctx.pool, dead_letter_id)

    return router
