"""What every intake route shares: the service context, typed by intake's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.intake.settings import IntakeSettings
from shared.runtime import ServiceContext, service_context

Context = Annotated[ServiceContext[IntakeSettings], Depends(service_context)]
