"""Notifications settings, from `NOTIFICATIONS_*` environment variables."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    """Settings of the notifications service: the timers, SMTP and webhooks."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    # --- the e-mails (their addresses are the directory's, as they are when each e-mail is sent) ---------
    public_base_url: str = Field(
        "https://microcredit.example.org", description="Base URL of the counsellors' web front: links to cases in e-mails."
    )

    # --- alert timers ----------------------------------------------------------------------------------
    escalation_delay_hours: float = Field(
        48.0, gt=0, le=24 * 30, description="An open warning or critical alert not acknowledged within it goes to the supervisors."
    )
    incomplete_file_days: int = Field(
        15, ge=1, le=365, description="Days an assessed-incomplete file may wait for its documents before its counsellor is alerted."
    )
    time_zone: str = Field("Europe/Paris", description="Time zone of the associations: snooze wake-ups, digests, dates in e-mails.")
    snooze_wake_hour: int = Field(8, ge=0, le=23, description="Local hour a snoozed alert comes back, on the chosen day.")
    max_snooze_days: int = Field(90, ge=1, le=366, description="How far ahead an alert may be snoozed.")
    default_digest_hour: int = Field(7, ge=0, le=23, description="Local hour of the daily digest when the counsellor chose none.")
    timer_interval_seconds: float = Field(60.0, gt=0, le=86_400, description="How often escalations, reminders, digests run.")

    # --- e-mail over SMTP ------------------------------------------------------------------------------
    smtp_host: str = Field("127.0.0.1", description="SMTP relay (a local MTA, or the association's provider).")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = Field(None, description="SMTP login, if the relay wants one.")
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(False, description="Upgrade the connection with STARTTLS (needed by most providers on 587).")
    smtp_timeout_seconds: float = Field(15.0, gt=0, le=300)
    email_sender: str = Field(
        "Microcrédit accompagné <alertes@microcredit.example.org>", description="From: of the e-mails."
    )
    email_max_attempts: int = Field(10, ge=1, le=100, description="Attempts before an e-mail is given up (`delivery failed`).")
    email_retry_base_seconds: float = Field(60.0, gt=0, description="First retry delay; doubles each attempt.")
    email_retry_max_seconds: float = Field(3600.0, gt=0, description="Longest retry delay.")

    # --- webhooks for partner banks --------------------------------------------------------------------
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60, description="How long a bank's endpoint may take to answer.")
    webhook_max_attempts: int = Field(12, ge=1, le=100, description="Attempts of one delivery before it is marked failed.")
    webhook_retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay; doubles each attempt.")
    webhook_retry_max_seconds: float = Field(6 * 3600.0, gt=0, description="Longest retry delay.")
    webhook_pause_after_failures: int = Field(
        15, ge=1, le=1000, description="Failed attempts in a row after which a subscription is paused and the bank told."
    )
    webhook_allow_insecure_urls: bool = Field(
        False, description="Accept http:// (not only https://) subscription URLs: for local tests and demos only."
    )

    # --- the partner banks' own topics -------------------------------------------------------------------
    partner_topic_replication_factor: int = Field(
        1, ge=1, le=5, description="Replicas of the three topics created for a bank the directory adds (3 on a production cluster)."
    )

    # --- the delivery workers --------------------------------------------------------------------------
    delivery_interval_seconds: float = Field(5.0, gt=0, le=3600, description="How often the e-mail and webhook workers look for due deliveries.")
    delivery_batch_size: int = Field(50, ge=1, le=1000, description="Deliveries one worker run sends at most.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: a misconfiguration must stop the start
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The associations' time zone."""
        return ZoneInfo(self.time_zone)
