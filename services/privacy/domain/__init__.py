"""The privacy service's pure domain: where a subject stands, which rule governs it, and what may be done."""

from services.privacy.domain.ledger import (
    RANK, Decision, Status, Subject, erasure_decision, governing_rule, retention_due,
)

__all__ = ["RANK", "Decision", "Status", "Subject", "erasure_decision", "governing_rule", "retention_due"]
