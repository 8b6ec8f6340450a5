"""Event contracts: the CloudEvents envelope, one versioned model per event, topics."""

from shared.events.catalog import (
    EVENT_TYPES,
    AnyEvent,
    ApplicationAssessed,
    ApplicationRouted,
    ApplicationSubmitted,
    ApplicationUpdated,
    ApplicationWithdrawn,
    BankDecision,
    BankDecisionOverdue,
    CounsellorAlertRaised,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    PaymentMissed,
    PaymentReceived,
    parse_event,
)
from shared.events.envelope import Envelope, EnvelopeHeader, new_event
from shared.events.topics import Topics

__all__ = [
    "EVENT_TYPES",
    "AnyEvent",
    "ApplicationAssessed",
    "ApplicationRouted",
    "ApplicationSubmitted",
    "ApplicationUpdated",
    "ApplicationWithdrawn",
    "BankDecision",
    "BankDecisionOverdue",
    "CounsellorAlertRaised",
    "Envelope",
    "EnvelopeHeader",
    "LoanApproved",
    "LoanDeclined",
    "LoanDisbursed",
    "PaymentMissed",
    "PaymentReceived",
    "Topics",
    "new_event",
    "parse_event",
]
