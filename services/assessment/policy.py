"""The policy a file is assessed under, from the settings and the usury caps table (read once per path)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from services.assessment.domain import Policy
from services.assessment.settings import AssessmentSettings
from shared.usury import UsuryTable


@lru_cache(maxsize=4)
def usury_table(path: Path | None) -> UsuryTable:
    """The usury caps table at `path` (the shared default when None), read on first use."""
    return UsuryTable.load(path)


def policy_for(settings: AssessmentSettings, association_id: str) -> Policy:
    """The association network's diagnostic rate, thresholds and partner banks, with the usury caps."""
    return Policy(
        diagnostic_annual_rate=settings.diagnostic_annual_rate,
        thresholds=settings.thresholds_for(association_id),
        partner_banks=tuple(settings.partner_banks.get(association_id, ())),
        usury=usury_table(settings.usury_caps_path),
    )
