"""Web workspace settings, from `WEB_*` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    """Where the workspace answers, whom it trusts to sign people in, and where the services are."""

    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", frozen=True)

    public_url: str = Field(
        "http://127.0.0.1:8000", description="The workspace's address as browsers reach it (the provider sends people back there)."
    )
    http_host: str = Field("127.0.0.1", description="Interface the pages are served on.")
    http_port: int = Field(8000, ge=0, le=65535, description="Port the pages are served on.")
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/postgres"), description="asyncpg DSN; the sessions live in schema `web`."
    )
    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP collector base URL; no export if unset.")
    oidc_issuer: str = Field(description="The identity provider's issuer URL (Keycloak: `…/realms/microcredit`).")
    oidc_discovery_url: str | None = Field(
        None, description="Where the workspace reads the provider's discovery document, when not at the issuer (a container network)."
    )
    oidc_jwks_url: str | None = Field(None, description="Where the provider's signing keys are fetched, when not where discovery says.")
    oidc_client_id: str = Field("microcredit-web", description="The workspace's client at the provider.")
    oidc_client_secret: SecretStr = Field(description="That client's secret (confidential client; PKCE as well).")
    oidc_audience: str = Field("microcredit-platform", description="The audience the services' access tokens carry.")
    session_hours: float = Field(10.0, gt=0, le=24, description="A session ends this long after sign-in, whatever happens.")
    intake_url: str = Field("http://127.0.0.1:8001", description="Intake's API.")
    assessment_url: str = Field("http://127.0.0.1:8002", description="Assessment's API.")
    servicing_url: str = Field("http://127.0.0.1:8003", description="Servicing's API.")
    notifications_url: str = Field("http://127.0.0.1:8004", description="Notifications' API.")
    directory_url: str = Field("http://127.0.0.1:8005", description="The directory's API.")
    privacy_url: str = Field("http://127.0.0.1:8006", description="The privacy service's API (the DPO's: erasure, restriction, retention).")
    trace_url: str | None = Field(
        None, description="A trace's page in the tracing UI, with `{trace_id}` in it (Zipkin: `http://host:9411/zipkin/traces/{trace_id}`)."
    )

    @property
    def secure_cookies(self) -> bool:
        """Cookies travel only over HTTPS when the workspace is served over HTTPS."""
        return self.public_url.startswith("https://")
