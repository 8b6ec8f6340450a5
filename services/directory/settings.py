"""Directory settings, from `DIRECTORY_*` environment variables (the common ones only: its data is administered over HTTP)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class DirectorySettings(ServiceSettings):
    """Settings of the directory service."""

    model_config = SettingsConfigDict(env_prefix="DIRECTORY_", extra="ignore", frozen=True)
