"""Assessment settings, from `ASSESSMENT_*` environment variables."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    """Settings of the assessment service."""

    model_config = SettingsConfigDict(env_prefix="ASSESSMENT_", extra="ignore", frozen=True)

    diagnostic_annual_rate: Decimal = Field(
        Decimal("0.035"), ge=0, le=Decimal("0.2"), description="Rate used for the first diagnostic's instalment."
    )
