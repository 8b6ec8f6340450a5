"""People's contacts (personal data): admins only, write and read."""

# No `from __future__ import annotations`: FastAPI reads the filter's parameters.
from typing import Any

from fastapi import Query

from services.directory.api.collections import collection, identifier_query
from services.directory.domain.entities import CONTACT
from shared.auth import Admin
from shared.events import ContactRole


async def _filters(
    association_id: str | None = identifier_query("Only the contacts of this association."),
    bank_id: str | None = identifier_query("Only the contacts of this bank."),
    role: ContactRole | None = Query(None, description="Only the contacts in this role."),
) -> dict[str, Any]:
    given = {"association_id": association_id, "bank_id": bank_id, "role": role}
    return {k: v for k, v in given.items() if v is not None}


router = collection(CONTACT, Admin, _filters)
