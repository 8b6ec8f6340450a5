"""What every servicing route shares: the service context, typed by servicing's settings, and the total of a list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from services.servicing.settings import ServicingSettings
from shared.runtime import ServiceContext, service_context

Context = Annotated[ServiceContext[ServicingSettings], Depends(service_context)]

TOTAL_COUNT = "X-Total-Count"
# `responses=` of a list: the header saying how many items there are in all, for paging.
PAGED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {TOTAL_COUNT: {"description": "How many items the list has in all.", "schema": {"type": "integer"}}}}
}
