"""What every privacy route shares: the service context, typed by the privacy settings, and the DPO's role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.privacy.settings import PrivacySettings
from shared.auth import Principal, Role, require
from shared.runtime import ServiceContext, service_context

Context = Annotated[ServiceContext[PrivacySettings], Depends(service_context)]
Dpo = Annotated[Principal, Depends(require(Role.DPO))]
DpoOrOps = Annotated[Principal, Depends(require(Role.DPO, Role.OPS))]
