"""Drafts abandoned longer than the retention rule `file-not-a-loan` allows (deploy/privacy/retention.toml), erased.

A draft never left intake: no event told the privacy service of it, so intake applies the rule to its own drafts,
counted from their last change. The person leaves the draft as at an erasure (`usecases.erase_person`); the draft's
`opened` milestone stays for the funnel. Before the rules came into force nothing is erased; run twice, the second
run finds nothing more.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.intake import usecases
from services.intake.settings import IntakeSettings
from shared.auth import Actor
from shared.privacy.retention import in_force, load_rules
from shared.runtime import ServiceContext

RULE = "file-not-a-loan"
BATCH = 1000


class AbandonedDrafts(BaseModel):
    """What the retention of abandoned drafts did."""

    drafts_erased: int = Field(0, description="Drafts unchanged for longer than the rule keeps them, their person erased.")


async def erase_abandoned_drafts(ctx: ServiceContext[IntakeSettings]) -> AbandonedDrafts:
    """Erase the person from the drafts the rule in force today no longer lets intake keep (a batch per transaction)."""
    now = ctx.clock.now()
    rule = in_force(load_rules(), ctx.clock.today()).get(RULE)
    run = AbandonedDrafts()
    if rule is None or rule.then != "erase":
        return run
    actor = Actor.system("retention")
    while True:
        async with ctx.pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                "select id from applications where status = 'draft' and erased_at is null and restricted_at is null"
                " and updated_at + $2::text::interval <= $1 order by id limit $3 for update skip locked",
                now, rule.keep, BATCH,
            )
            for row in due:
                run.drafts_erased += await usecases.erase_person(conn, row["id"], actor=actor, at=now)
        if len(due) < BATCH:
            return run
