"""Assessment settings, from `ASSESSMENT_*` environment variables, and the policy they make with the directory's terms.

The policy a file is assessed under: the association network's thresholds and the association's active
partner banks come from the directory (assessment's copy, `DirectoryTerms`); the diagnostic rate, the
thresholds of a network that sets none, and the usury caps (the TOML table they name) from these
settings. The table is read once per path, on first use, and a broken file stops the service at start
(`app.py` reads it then).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.assessment.domain.assessment import DirectoryTerms, Policy
from services.assessment.domain.checks import Thresholds
from shared.settings import ServiceSettings
from shared.usury import UsuryTable


@lru_cache(maxsize=4)
def _usury_table(path: Path | None) -> UsuryTable:
    return UsuryTable.load(path)


class AssessmentSettings(ServiceSettings):
    """Settings of the assessment service."""

    model_config = SettingsConfigDict(env_prefix="ASSESSMENT_", extra="ignore", frozen=True)

    diagnostic_annual_rate: Decimal = Field(
        Decimal("0.035"), ge=0, le=Decimal("0.2"),
        description="Rate of the first diagnostic's instalment, before the counsellor proposes terms.",
    )
    # The platform's defaults, for a network whose thresholds the directory leaves empty: a deployment's
    # policy (the common 33 % rule), which every network may tighten or loosen in the directory.
    min_remaining_per_unit_cents: int = Field(
        300_00, ge=0,
        description="Affordability default: minimum reste à vivre per consumption unit and month after the instalment (cents).",
    )
    max_instalment_share: Decimal = Field(
        Decimal("0.33"), gt=0, le=1,
        description="Affordability default: maximum share of the monthly resources the instalment may take.",
    )
    usury_caps_path: Path | None = Field(
        None, description="TOML table of the dated usury caps (default: shared/usury_caps.toml)."
    )
    bank_decision_overdue_days: int = Field(
        30, ge=1, le=365, description="Days after routing without a bank decision before `bank decision overdue` is raised."
    )
    timer_interval_seconds: float = Field(
        60.0, gt=0, le=86_400, description="How often the service looks for overdue bank decisions."
    )

    def usury_table(self) -> UsuryTable:
        """The usury caps table (`usury_caps_path`, or the shared default), read on first use."""
        return _usury_table(self.usury_caps_path)

    def policy_for(self, association: DirectoryTerms) -> Policy:
        """The association's policy: its network's thresholds (these defaults where it sets none), its active
        partner banks, the diagnostic rate and the usury caps."""
        return Policy(
            diagnostic_annual_rate=self.diagnostic_annual_rate,
            thresholds=Thresholds(
                min_remaining_per_unit_cents=(
                    self.min_remaining_per_unit_cents
                    if association.min_remaining_per_unit_cents is None
                    else association.min_remaining_per_unit_cents
                ),
                max_instalment_share=(
                    self.max_instalment_share if association.max_instalment_share is None else association.max_instalment_share
                ),
            ),
            partner_banks=association.partner_banks,
            usury=self.usury_table(),
        )
