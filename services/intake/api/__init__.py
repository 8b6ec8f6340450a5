"""Intake HTTP API: counsellors and supervisors build their association's files; the funnel for them and ops."""

from fastapi import APIRouter

from services.intake.api import applications, funnel

router = APIRouter()
router.include_router(applications.router)
router.include_router(funnel.router)
