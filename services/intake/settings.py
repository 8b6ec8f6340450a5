"""Intake settings, from `INTAKE_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Settings of the intake service."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    retention_interval_seconds: float = Field(
        3600, gt=0, description="Seconds between two background runs of the abandoned drafts' retention (`file-not-a-loan`)."
    )
