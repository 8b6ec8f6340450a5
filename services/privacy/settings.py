"""Privacy settings, from `PRIVACY_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.privacy.retention import RETENTION_RULES
from shared.settings import ServiceSettings


class PrivacySettings(ServiceSettings):
    """Settings of the privacy service (the DPO's: ledger, retention, erasure); `PRIVACY_PRIVACY_KEK` is required."""

    model_config = SettingsConfigDict(env_prefix="PRIVACY_", extra="ignore", frozen=True)

    retention_rules: Path = Field(RETENTION_RULES, description="The dated retention rules (TOML) the daily job applies.")
    retention_interval_seconds: float = Field(
        3600, gt=0, description="Seconds between two background runs of the retention job (a day's run does its work once)."
    )
    retention_chunk_size: int = Field(
        200, ge=1, le=10_000,
        description="Subjects per retention transaction: each chunk commits its erasures, their events and its progress together.",
    )
