"""Who may see and act on a loan (pure): a bank its own loans, counsellors and supervisors their association's."""

from __future__ import annotations

from services.servicing.domain.loans import Loan
from shared.auth import Principal, Role


def visible(principal: Principal, loan: Loan) -> bool:
    """A bank sees its own loans; counsellors and supervisors their association's; ops none."""
    if principal.role is Role.BANK:
        return loan.bank_id == principal.bank_id
    return principal.is_member_of(loan.association_id)
