"""Associations: admins write them, any signed-in caller reads them (e.g. to offer its partner banks)."""

# No `from __future__ import annotations`: FastAPI reads the filter's parameters.
from typing import Any

from services.directory.api.collections import collection, identifier_query
from services.directory.domain.entities import ASSOCIATION
from shared.auth import CurrentPrincipal


async def _filters(
    network_id: str | None = identifier_query("Only the associations of this network."),
    region: str | None = identifier_query("Only the associations working in this region."),
    partner_bank: str | None = identifier_query("Only the associations that route files to this bank."),
) -> dict[str, Any]:
    matching: dict[str, Any] = {"network_id": network_id} if network_id else {}
    if region:
        matching["regions"] = [region]
    if partner_bank:
        matching["partner_banks"] = [partner_bank]
    return matching


router = collection(ASSOCIATION, CurrentPrincipal, _filters)
