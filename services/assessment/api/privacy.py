"""The DPO's access to assessment: everything it holds about one data subject (right of access, RGPD art. 15)."""

from __future__ import annotations

from services.assessment import repository
from shared.privacy.access import access_router

router = access_router("assessment", repository.subject_records)
