"""The DPO's access to notifications: everything it holds about one data subject (right of access, RGPD art. 15)."""

from __future__ import annotations

from services.notifications.privacy import repository
from shared.privacy.access import access_router

router = access_router("notifications", repository.subject_records)
