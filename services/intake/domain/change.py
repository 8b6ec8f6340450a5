"""What an action decides, as values: the new state, its events, its audit line and its funnel milestone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.intake.domain.file import Application
from shared.auth import Actor
from shared.events.envelope import Envelope


class Milestone(StrEnum):
    """Steps of the funnel, each dated when it happened."""

    OPENED = "opened"
    SUBMITTED = "submitted"
    ASSESSED_FAVOURABLE = "assessed_favourable"
    ASSESSED_UNFAVOURABLE = "assessed_unfavourable"
    RETURNED_INCOMPLETE = "returned_incomplete"
    ROUTED = "routed"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class AuditEntry:
    """One line of a file's audit trail."""

    action: str
    actor: Actor
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """What one action decided: the file's new state, its events, its audit line and funnel milestone."""

    application: Application
    audit: AuditEntry
    events: tuple[Envelope[Any], ...] = ()
    milestone: Milestone | None = None
