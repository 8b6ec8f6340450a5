"""Assessment settings, from `ASSESSMENT_*` environment variables (maps and lists as JSON), and the policy they make.

The policy a file is assessed under is configuration: the network's diagnostic rate, thresholds and
partner banks come from these settings, the usury caps from the TOML table they name. So the policy is
built here, next to what it is made of, and the use cases only ask for it; the table is read once per
path, on first use, and a broken file stops the service at start (`app.py` reads it then).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from services.assessment.domain.assessment import Policy
from services.assessment.domain.checks import Thresholds
from shared.settings import ServiceSettings
from shared.usury import UsuryTable

DEFAULT_PARTNER_BANKS: dict[str, list[str]] = {
    "secours-catholique": ["credit-mutuel-nord", "la-banque-postale"],
    "restos-du-coeur": ["la-banque-postale", "caisse-epargne-hauts-de-france"],
    "croix-rouge": ["credit-cooperatif", "la-banque-postale"],
    "udaf": ["caisse-epargne-hauts-de-france", "credit-municipal-lille"],
    "cresus": ["credit-municipal-lille", "credit-cooperatif"],
}


@lru_cache(maxsize=4)
def _usury_table(path: Path | None) -> UsuryTable:
    return UsuryTable.load(path)


class ThresholdOverride(BaseModel):
    """An association network's own affordability thresholds; what it leaves out keeps the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_remaining_per_unit_cents: int | None = Field(
        None, ge=0, description="Minimum reste à vivre per unit after the instalment."
    )
    max_instalment_share: Decimal | None = Field(None, gt=0, le=1, description="Maximum instalment ÷ resources.")


class AssessmentSettings(ServiceSettings):
    """Settings of the assessment service."""

    model_config = SettingsConfigDict(env_prefix="ASSESSMENT_", extra="ignore", frozen=True)

    diagnostic_annual_rate: Decimal = Field(
        Decimal("0.035"), ge=0, le=Decimal("0.2"),
        description="Rate of the first diagnostic's instalment, before the counsellor proposes terms.",
    )
    min_remaining_per_unit_cents: int = Field(
        300_00, ge=0,
        description="Affordability: minimum reste à vivre per consumption unit and month after the instalment (cents).",
    )
    max_instalment_share: Decimal = Field(
        Decimal("0.33"), gt=0, le=1,
        description="Affordability: maximum share of the monthly resources the instalment may take.",
    )
    thresholds_by_association: dict[str, ThresholdOverride] = Field(
        default_factory=dict,
        description=(
            'Per-network affordability thresholds, e.g. {"restos-du-coeur": {"min_remaining_per_unit_cents": 25000}}.'
        ),
    )
    partner_banks: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_PARTNER_BANKS.items()},
        description="Partner banks of each association (association id → bank ids) a favourable file may be routed to.",
    )
    association_contacts: dict[str, str] = Field(
        default_factory=lambda: {"secours-catholique": "microcredit.hauts-de-france@secours-catholique.org"},
        description="Contact a partner bank is given for each association's files (association id → e-mail or phone).",
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

    def thresholds_for(self, association_id: str) -> Thresholds:
        """The association's thresholds: its overrides over the defaults."""
        own = self.thresholds_by_association.get(association_id, ThresholdOverride())
        return Thresholds(
            min_remaining_per_unit_cents=(
                own.min_remaining_per_unit_cents
                if own.min_remaining_per_unit_cents is not None
                else self.min_remaining_per_unit_cents
            ),
            max_instalment_share=(
                own.max_instalment_share if own.max_instalment_share is not None else self.max_instalment_share
            ),
        )

    def usury_table(self) -> UsuryTable:
        """The usury caps table (`usury_caps_path`, or the shared default), read on first use."""
        return _usury_table(self.usury_caps_path)

    def policy_for(self, association_id: str) -> Policy:
        """The association network's diagnostic rate, thresholds and partner banks, with the usury caps."""
        return Policy(
            diagnostic_annual_rate=self.diagnostic_annual_rate,
            thresholds=self.thresholds_for(association_id),
            partner_banks=tuple(self.partner_banks.get(association_id, ())),
            usury=self.usury_table(),
        )
