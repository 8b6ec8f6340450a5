"""The DPO's access to directory: everything it holds about one data subject (right of access, RGPD art. 15)."""

from __future__ import annotations

from services.directory import repository
from shared.privacy.access import access_router

router = access_router("directory", repository.subject_records)
