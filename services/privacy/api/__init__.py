"""The privacy service's HTTP API (DPO): subjects (ledger, erasure, restriction) and the retention runs' reports."""

from fastapi import APIRouter

from services.privacy.api import retention, subjects

router = APIRouter()
for resource in (subjects, retention):
    router.include_router(resource.router)

__all__ = ["router"]
