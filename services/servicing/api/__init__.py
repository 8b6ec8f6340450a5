"""Servicing's HTTP API: one module per resource (loans, payments, adjustments, the close of business)."""

from fastapi import APIRouter

from services.servicing.api import adjustments, close_of_business, loans, payments, privacy

router = APIRouter()
for resource in (loans, payments, adjustments, close_of_business, privacy):
    router.include_router(resource.router)

__all__ = ["router"]
