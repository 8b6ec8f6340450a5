"""The DPO's access to servicing: everything it holds about one data subject (right of access, RGPD art. 15)."""

from __future__ import annotations

from services.servicing.repository import privacy as repository
from shared.privacy.access import access_router

router = access_router("servicing", repository.subject_records)
