"""Servicing settings, from `SERVICING_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ServicingSettings(ServiceSettings):
    """Settings of the servicing service."""

    model_config = SettingsConfigDict(env_prefix="SERVICING_", extra="ignore", frozen=True)

    grace_days: int = Field(
        0,
        ge=0,
        le=31,
        description=(
            "Days after its due date before an unpaid instalment counts as missed (`payment missed`). "
            "0: missed at the close of business of its due date, which the demo journey relies on; a bank "
            "collecting by direct debit would rather take the 5 business days a rejection takes to come back."
        ),
    )
    write_off_days: int = Field(
        180, ge=1, le=3650, description="Days past due from which the close of business writes a loan off (FCS guarantee claimed)."
    )
    cob_chunk_size: int = Field(
        1000,
        ge=1,
        le=100_000,
        description=(
            "Loans per close-of-business transaction: each chunk commits its state changes, events and "
            "progress together; smaller chunks hold the loans' locks (and delay payments) for less time."
        ),
    )
    # The close of business writes 100,000+ events at once: the relay publishes them in large batches.
    outbox_batch_size: int = Field(5000, ge=1, le=50_000, description="Rows the relay publishes per batch.")
