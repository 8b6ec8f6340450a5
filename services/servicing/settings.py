"""Servicing settings, from `SERVICING_*` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ServicingSettings(ServiceSettings):
    """Settings of the servicing service."""

    model_config = SettingsConfigDict(env_prefix="SERVICING_", extra="ignore", frozen=True)
