"""Who sees which file: an association's counsellors and supervisors its files, a bank the files routed to it."""

from __future__ import annotations

from services.assessment.domain.assessment import Assessment
from shared.auth import Principal, Role


def association_sees(principal: Principal, a: Assessment) -> bool:
    """Counsellors and supervisors see every file of their own association, nothing else."""
    return principal.is_member_of(a.association_id)


def bank_sees(principal: Principal, a: Assessment) -> bool:
    """A bank sees a file once it is routed to it, nothing else."""
    return principal.role is Role.BANK and a.routed_at is not None and a.bank_id == principal.bank_id


def queue_owner(principal: Principal) -> str | None:
    """Whose files a review queue lists: a counsellor's own; a supervisor's whole association (None)."""
    return principal.subject if principal.role is Role.COUNSELLOR else None
