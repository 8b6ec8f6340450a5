"""What every servicing route shares: the service context, typed by servicing's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.servicing.settings import ServicingSettings
from shared.runtime import ServiceContext, service_context

Context = Annotated[ServiceContext[ServicingSettings], Depends(service_context)]
