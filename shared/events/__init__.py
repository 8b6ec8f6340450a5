"""Event contracts: the CloudEvents envelope, one versioned model per event, topics.

Every event class and its payload class are exported by name from the catalogue's one list
(`from shared.events import LoanApproved, LoanApprovedData`).
"""

from typing import Any

from shared.events.applications import ApplicationFileData, BudgetDiagnostic, CheckResult, Household, ProjectInfo
from shared.events.catalog import EVENT_CLASSES, EVENT_TYPES, AnyEvent, parse_event, payload_class
from shared.events.common import Cents, FileOwnership, Rate
from shared.events.directory import Branch, ContactRole
from shared.events.envelope import Envelope, EnvelopeHeader, new_event
from shared.events.loans import AdjustmentTerms
from shared.events.partner import PARTNER_FIELDS, for_partner
from shared.events.topics import PartnerTopics, Topics

_EVENTS: dict[str, Any] = {cls.__name__: cls for cls in EVENT_CLASSES}
_PAYLOADS: dict[str, Any] = {payload_class(cls).__name__: payload_class(cls) for cls in EVENT_CLASSES}
globals().update(_EVENTS, **_PAYLOADS)

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "AdjustmentTerms",
    "ApplicationFileData",
    "AnyEvent",
    "Branch",
    "BudgetDiagnostic",
    "Cents",
    "CheckResult",
    "ContactRole",
    "Envelope",
    "EnvelopeHeader",
    "FileOwnership",
    "Household",
    "ProjectInfo",
    "Rate",
    "PARTNER_FIELDS",
    "PartnerTopics",
    "Topics",
    "for_partner",
    "new_event",
    "parse_event",
    "payload_class",
    *_EVENTS,
    *_PAYLOADS,
]
