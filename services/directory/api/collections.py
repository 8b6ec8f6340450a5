"""One shape for the four collections: `PUT` creates or changes an entity, `GET` reads one or a page, `…/audit` its changes.

Only admins write and read the audit trails. What another service or a person needs to read (networks,
associations, banks: no personal data) any signed-in caller may read; contacts are personal data: admins only.
"""

# No `from __future__ import annotations`: the routes are built per kind, and FastAPI must see each kind's
# body and answer models as objects.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from services.directory import repository, usecases
from services.directory.api.common import Context
from services.directory.domain.changes import AuditEntry
from services.directory.domain.entities import BANK, NETWORK, Kind
from shared.auth import Actor, Admin
from shared.fields import IDENTIFIER_PATTERN
from shared.http import PAGED, TOTAL_COUNT, PageQuery, not_found
from shared.openapi import problems

# Async: FastAPI runs a plain `def` dependency in a worker thread.
Filters = Callable[..., Awaitable[dict[str, Any]]]


def identifier_query(description: str) -> Any:
    """An optional query parameter naming an entity of the directory."""
    return Query(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description=description)


def collection(kind: Kind, reader: Any, filters: Filters) -> APIRouter:
    """The routes of one kind of entity; `reader` lets callers read, `filters` gives a list's state filter."""
    router = APIRouter(prefix=f"/{kind.path}", tags=[kind.path])
    view, body_model = kind.view(), kind.fields
    entity = f"/{{{kind.id_field}}}"
    EntityId = Annotated[
        str, Path(alias=kind.id_field, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description=f"The {kind.name}'s id.")
    ]
    refusals = problems(409) if kind in (BANK, NETWORK) else {}

    @router.put(
        entity, response_model=view, summary=f"Create or change a {kind.name}",
        responses={201: {"model": view, "description": f"The {kind.name} was created."}, **refusals},
    )
    async def put(entity_id: EntityId, body: body_model, principal: Admin, ctx: Context, response: Response) -> Any:  # type: ignore[valid-type]
        """The whole state (idempotent: the same state again changes nothing); `"active": false` deactivates."""
        async with ctx.pool.acquire() as conn, conn.transaction():
            stored, created = await usecases.put(conn, kind, entity_id, body, actor=Actor.of(principal), now=ctx.clock.now())
        if created:
            response.status_code = 201
        return stored.view()

    @router.get(entity, response_model=view, summary=f"Read a {kind.name}")
    async def read(entity_id: EntityId, _caller: reader, ctx: Context) -> Any:  # type: ignore[valid-type]
        """As it is now, with its version."""
        stored = await repository.get(ctx.pool, kind, entity_id)
        if stored is None:
            raise not_found(kind.name, entity_id)
        return stored.view()

    @router.get("", response_model=list[view], summary=f"List the {kind.path}", responses=PAGED)  # type: ignore[valid-type]
    async def listing(
        _caller: reader, ctx: Context, page: PageQuery, response: Response,  # type: ignore[valid-type]
        matching: Annotated[dict[str, Any], Depends(filters)],
        active: bool | None = Query(None, description="true: those in use; false: the deactivated ones."),
    ) -> Any:
        """By id; `X-Total-Count` says how many match."""
        found, total = await repository.listing(ctx.pool, kind, matching=matching, active=active, limit=page.limit, offset=page.offset)
        response.headers[TOTAL_COUNT] = str(total)
        return [s.view() for s in found]

    @router.get(f"{entity}/audit", response_model=list[AuditEntry], summary=f"A {kind.name}'s changes", responses=PAGED)
    async def audit(entity_id: EntityId, _admin: Admin, ctx: Context, page: PageQuery, response: Response) -> Any:
        """Who changed what and when, with the whole state before and after, oldest first."""
        if await repository.get(ctx.pool, kind, entity_id) is None:
            raise not_found(kind.name, entity_id)
        entries, total = await repository.audit_trail(ctx.pool, kind, entity_id, limit=page.limit, offset=page.offset)
        response.headers[TOTAL_COUNT] = str(total)
        return entries

    return router
