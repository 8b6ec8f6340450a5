"""Partner banks: admins write them, any signed-in caller reads them. A bank with files waiting for its decision stays active."""

from __future__ import annotations

from typing import Any

from services.directory.api.collections import collection
from services.directory.domain.entities import BANK
from shared.auth import CurrentPrincipal


async def _no_filter() -> dict[str, Any]:
    return {}


router = collection(BANK, CurrentPrincipal, _no_filter)
