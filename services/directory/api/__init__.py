"""The directory's HTTP API: one collection per kind of entity (networks, associations, banks, contacts)."""

from fastapi import APIRouter

from services.directory.api import associations, banks, contacts, networks, privacy

router = APIRouter()
for resource in (networks, associations, banks, contacts, privacy):
    router.include_router(resource.router)

__all__ = ["router"]
