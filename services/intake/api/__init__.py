"""Intake HTTP API: counsellors and supervisors log first contacts and build their association's files; the funnel for them and ops."""

from fastapi import APIRouter

from services.intake.api import applications, contacts, funnel, privacy

router = APIRouter()
router.include_router(contacts.router)
router.include_router(applications.router)
router.include_router(funnel.router)
router.include_router(privacy.router)
