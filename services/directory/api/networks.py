"""Association networks and their affordability thresholds: admins write them, any signed-in caller reads them."""

from __future__ import annotations

from typing import Any

from services.directory.api.collections import collection
from services.directory.domain.entities import NETWORK
from shared.auth import CurrentPrincipal


async def _no_filter() -> dict[str, Any]:
    return {}


router = collection(NETWORK, CurrentPrincipal, _no_filter)
