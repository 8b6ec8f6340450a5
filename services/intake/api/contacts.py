"""First contacts: a counsellor or supervisor logs one in a few seconds, and lists their association's.

A first contact names nobody: where the person came from and what came of it, for the funnel.
"""

from __future__ import annotations

from uuid import uuid4

from fastapi import APIRouter, Response

from services.intake import domain, repository, usecases
from services.intake.api.common import Context
from shared.auth import Actor, AssociationStaff
from shared.errors import BusinessRuleError
from shared.http import PAGED, TOTAL_COUNT, PageQuery

router = APIRouter(tags=["contacts"])


@router.post("/contacts", status_code=201, response_model=domain.FirstContact, summary="Log a first contact")
async def log_contact(body: domain.NewFirstContact, principal: AssociationStaff, ctx: Context) -> domain.FirstContact:
    """In the caller's association and region (from the token), dated by the service's clock.

    Each outcome takes its own fields, and only those (422 `required_for_outcome` / `not_for_outcome`):
    `appointment` an optional `appointment_on` (not in the past), `oriented` the aid in `oriented_to`,
    `not_eligible` a `reason` and an optional `note`.
    """
    if not principal.region:
        raise BusinessRuleError("the bearer token names no region to log under", field="Authorization", rule="token_region", status=403)
    async with ctx.pool.acquire() as conn:  # one statement: its own transaction
        return await usecases.log_contact(
            conn, body, contact_id=uuid4(), association_id=principal.association_id or "", region=principal.region,
            actor=Actor.of(principal), now=ctx.clock.now(),
        )


@router.get("/contacts", response_model=list[domain.FirstContact], summary="List first contacts", responses=PAGED)
async def list_contacts(
    principal: AssociationStaff, ctx: Context, response: Response, page: PageQuery
) -> list[domain.FirstContact]:
    """The association's first contacts, newest first; `X-Total-Count` says how many it has in all."""
    contacts, total = await repository.list_contacts(
        ctx.pool, association_id=principal.association_id or "", limit=page.limit, offset=page.offset
    )
    response.headers[TOTAL_COUNT] = str(total)
    return contacts
