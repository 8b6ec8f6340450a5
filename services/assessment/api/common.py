"""What every assessment route shares: the service context, typed by assessment's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.assessment.settings import AssessmentSettings
from shared.runtime import ServiceContext, service_context

Context = Annotated[ServiceContext[AssessmentSettings], Depends(service_context)]
