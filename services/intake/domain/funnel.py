"""The funnel: first contacts and what came of them, then files opened, submitted, assessed, routed, decided and
withdrawn over a period (no personal data)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.change import Milestone
from services.intake.domain.contacts import ContactOutcome
from shared.errors import BusinessRuleError

# The stages the funnel shows, in the order a file goes through them.
STAGES: tuple[Milestone, ...] = (
    Milestone.OPENED,
    Milestone.SUBMITTED,
    Milestone.ASSESSED_FAVOURABLE,
    Milestone.ROUTED,
    Milestone.APPROVED,
    Milestone.DECLINED,
    Milestone.WITHDRAWN,
)
# What the first contacts logged in the period came to, counted on the day each was logged (before any file):
# each count and the outcome it counts (None: every first contact).
CONTACT_COUNTS: dict[str, ContactOutcome | None] = {
    "first_contacts": None,
    "appointments": ContactOutcome.APPOINTMENT,
    "oriented": ContactOutcome.ORIENTED,
    "not_eligible": ContactOutcome.NOT_ELIGIBLE,
}


class FunnelCounts(BaseModel):
    """How many first contacts were logged and files reached each stage during the period (each counted on the day it happened)."""

    model_config = ConfigDict(frozen=True)

    first_contacts: int = Field(0, description="First contacts logged (`POST /contacts`), whatever came of them.")
    appointments: int = Field(0, description="First contacts that led to an appointment.")
    oriented: int = Field(0, description="First contacts oriented to another aid.")
    not_eligible: int = Field(0, description="First contacts for whom a microcredit was not the answer.")
    opened: int = Field(0, description="Drafts created.")
    submitted: int = 0
    assessed_favourable: int = 0
    routed: int = Field(0, description="Sent to a partner bank.")
    approved: int = 0
    declined: int = 0
    withdrawn: int = 0


class FunnelRow(FunnelCounts):
    """The funnel of one association in one region."""

    association_id: str
    region: str


class Funnel(BaseModel):
    """The funnel per association and region, and its total."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    from_: date = Field(alias="from", description="First day of the period (UTC dates).")
    to: date = Field(description="Last day of the period, included.")
    rows: list[FunnelRow]
    total: FunnelCounts


def check_period(start: date, end: date) -> None:
    """A period runs forwards."""
    if start > end:
        raise BusinessRuleError(
            f"the period starts ({start}) after it ends ({end})", field="query.from", rule="from_after_to", status=422
        )


def funnel(start: date, end: date, rows: list[FunnelRow]) -> Funnel:
    """Rows and their total."""
    total = FunnelCounts(**{name: sum(getattr(r, name) for r in rows) for name in FunnelCounts.model_fields})
    return Funnel(from_=start, to=end, rows=rows, total=total)
