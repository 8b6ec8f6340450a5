"""Assessment's events move a file on: assessed, routed to a bank, approved or declined (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.domain.change import Actor, AuditEntry, Change, Milestone
from services.intake.domain.file import CLOSED, DECIDED, Application, Status

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


def record_progress(
    application: Application, milestone: Milestone, actor: Actor, at: datetime, details: dict[str, Any]
) -> Change | None:
    """Move the file on after assessment's event; None when it is closed or already further along."""
    target = PROGRESS[milestone]
    if application.status in CLOSED or target is application.status or RANK[target] < RANK[application.status]:
        return None
    update: dict[str, Any] = {"status": target, "updated_at": at}
    if target in DECIDED:
        update["decided_at"] = at
    return Change(application.model_copy(update=update), AuditEntry(milestone.value, actor, at, details))
