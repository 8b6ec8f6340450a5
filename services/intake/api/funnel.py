"""The funnel: how many first contacts were logged and files reached each step, per association and region, for staff and ops (counts only)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query

from services.intake import domain, repository
from services.intake.api.common import Context
from shared.auth import AssociationStaffOrOps, Role
from shared.errors import BusinessRuleError
from shared.fields import IDENTIFIER_PATTERN

router = APIRouter(tags=["funnel"])


@router.get("/funnel", response_model=domain.Funnel, summary="The funnel per association and region")
async def get_funnel(
    principal: AssociationStaffOrOps,
    ctx: Context,
    start: date = Query(alias="from", description="First day (in France), included."),
    end: date = Query(alias="to", description="Last day (in France), included."),
    association_id: str | None = Query(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN),
    region: str | None = Query(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN),
) -> domain.Funnel:
    """First contacts (and their appointments, orientations, people not eligible), then files opened, submitted,
    assessed favourable, routed, approved, declined, withdrawn, by the day each happened.

    Counsellors and supervisors see their association; ops every association (counts only, no personal data).
    """
    domain.check_period(start, end)
    if principal.role is not Role.OPS:
        if association_id not in (None, principal.association_id):
            raise BusinessRuleError(
                "the funnel of another association is not yours to see",
                field="query.association_id",
                rule="other_association",
                status=403,
            )
        association_id = principal.association_id
    rows = await repository.funnel_rows(ctx.pool, start, end, association_id=association_id, region=region)
    return domain.funnel(start, end, rows)
