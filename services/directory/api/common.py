"""What every directory route shares: the service context, typed by the directory's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.directory.settings import DirectorySettings
from shared.runtime import ServiceContext, service_context

Context = Annotated[ServiceContext[DirectorySettings], Depends(service_context)]
