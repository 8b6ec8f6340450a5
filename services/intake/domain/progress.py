"""Assessment's events move a file on: assessed, routed to a bank, approved or declined (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from services.intake.domain.change import AuditEntry, Change, Milestone
from services.intake.domain.file import CLOSED, DECIDED, Application, Status
from shared.auth import Actor

# The milestone each outcome of `application assessed` reaches.
ASSESSED: dict[str, Milestone] = {
    "favourable": Milestone.ASSESSED_FAVOURABLE,
    "unfavourable": Milestone.ASSESSED_UNFAVOURABLE,
    "incomplete": Milestone.RETURNED_INCOMPLETE,
}
# Where assessment's events take a file, and how far along each status is: a late event never moves it back.
PROGRESS: dict[Milestone, Status] = {
    Milestone.ASSESSED_FAVOURABLE: Status.FAVOURABLE,
    Milestone.ASSESSED_UNFAVOURABLE: Status.UNFAVOURABLE,
    Milestone.RETURNED_INCOMPLETE: Status.RETURNED_INCOMPLETE,
    Milestone.ROUTED: Status.ROUTED,
    Milestone.APPROVED: Status.APPROVED,
    Milestone.DECLINED: Status.DECLINED,
}
RANK: dict[Status, int] = {
    Status.DRAFT: 0,
    Status.SUBMITTED: 1,
    Status.FAVOURABLE: 2,
    Status.UNFAVOURABLE: 2,
    Status.RETURNED_INCOMPLETE: 2,
    Status.ROUTED: 3,
    Status.APPROVED: 4,
    Status.DECLINED: 4,
    Status.WITHDRAWN: 4,
}


@dataclass(frozen=True)
class Progress:
    """A step assessment reports about a file: which, whose file, who reported it, when, and its particulars."""

    application_id: UUID
    milestone: Milestone
    association_id: str
    region: str
    actor: Actor
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


def record_progress(application: Application, progress: Progress) -> Change | None:
    """Move the file on after assessment's event; None when it is closed or already further along."""
    target = PROGRESS[progress.milestone]
    if application.status in CLOSED or target is application.status or RANK[target] < RANK[application.status]:
        return None
    update: dict[str, Any] = {"status": target, "updated_at": progress.at}
    if target in DECIDED:
        update["decided_at"] = progress.at
    audit = AuditEntry(progress.milestone.value, progress.actor, progress.at, progress.details)
    return Change(application.model_copy(update=update), audit)
