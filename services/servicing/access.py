"""Who may see and act on a loan: the callers each servicing endpoint lets through."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends

from services.servicing.domain import Loan
from shared.auth import Principal, Role, require
from shared.http import not_found

Reader = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR, Role.BANK))]
Adviser = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR))]
Bank = Annotated[Principal, Depends(require(Role.BANK))]
Ops = Annotated[Principal, Depends(require(Role.OPS))]


def visible(principal: Principal, loan: Loan) -> bool:
    """A bank sees its own loans; counsellors and supervisors their association's; ops none."""
    if principal.role is Role.BANK:
        return loan.bank_id == principal.bank_id
    return principal.is_member_of(loan.association_id)


def found(principal: Principal, loan: Loan | None, loan_id: UUID) -> Loan:
    """The loan if the caller may see it; another's loan answers exactly like an unknown one (404)."""
    if loan is None or not visible(principal, loan):
        raise not_found("loan", loan_id)
    return loan
