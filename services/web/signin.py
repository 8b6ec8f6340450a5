"""Signing in with the identity provider: authorisation code with PKCE (S256), by Authlib.

The provider's endpoints come from its discovery document. The access token it gives is verified with
the same code the services use (`shared.oidc`): the workspace learns who signed in from a token it has
checked, not from what the browser says.
"""

from __future__ import annotations

import secrets
import ssl
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

from services.web.settings import WebSettings
from shared.auth import Principal, principal_from_claims
from shared.oidc import TokenVerifier

SCOPES = "openid profile microcredit"


class SignInError(Exception):
    """The provider's round trip did not give a valid sign-in."""


class Provider:
    """The identity provider as the workspace uses it."""

    def __init__(self, settings: WebSettings, http: httpx.AsyncClient, verifier: TokenVerifier, id_verifier: TokenVerifier) -> None:
        self._settings = settings
        self._http = http
        self._verifier = verifier  # access tokens: the platform's audience
        self._id_verifier = id_verifier  # ID tokens: this client's audience
        self._metadata: dict[str, Any] | None = None
        # One TLS context for every exchange with the provider: making one costs milliseconds of CPU each time.
        self._tls = ssl.create_default_context()

    @property
    def redirect_uri(self) -> str:
        """Where the provider sends the browser back with the code."""
        return f"{self._settings.public_url}/auth/callback"

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once)."""
        if self._metadata is None:
            answer = await self._http.get(
                self._settings.oidc_discovery_url or f"{self._settings.oidc_issuer}/.well-known/openid-configuration"
            )
            answer.raise_for_status()
            self._metadata = answer.json()
        return self._metadata

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._settings.oidc_client_id,
            client_secret=self._settings.oidc_client_secret.get_secret_value(),
            scope=SCOPES,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=30,
            verify=self._tls,
        )

    async def start(self) -> tuple[str, dict[str, str]]:
        """The provider's sign-in URL, and what the callback must find again (state, nonce, PKCE verifier)."""
        round_trip = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24), "verifier": secrets.token_urlsafe(48)}
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                (await self.metadata())["authorization_endpoint"],
                state=round_trip["state"], nonce=round_trip["nonce"], code_verifier=round_trip["verifier"],
            )
        return url, round_trip

    async def finish(self, code: str, verifier: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) for the person's tokens."""
        async with self._client() as client:
            try:
                return dict(await client.fetch_token(
                    (await self.metadata())["token_endpoint"], code=code, code_verifier=verifier, grant_type="authorization_code"
                ))
            except Exception as exc:  # Authlib raises its OAuthError or httpx's errors
                raise SignInError(f"the provider refused the code: {exc}") from exc

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """New tokens for a session whose access token expired."""
        async with self._client() as client:
            try:
                return dict(await client.refresh_token((await self.metadata())["token_endpoint"], refresh_token=refresh_token))
            except Exception as exc:
                raise SignInError(f"the provider refused to renew the session: {exc}") from exc

    async def person(self, tokens: dict[str, Any]) -> tuple[Principal, str]:
        """Who the access token names (checked like every service checks it), and their name from the ID token.

        The access token carries no name (the services do not need one); the ID token, for this client, does."""
        principal = principal_from_claims(await self._verifier.claims(tokens["access_token"]))
        identity = await self._id_verifier.claims(tokens["id_token"]) if tokens.get("id_token") else {}
        return principal, str(identity.get("name") or principal.subject)

    async def end_session_url(self, id_token: str | None) -> str:
        """The provider's sign-out URL, which ends its session too and comes back to the workspace."""
        query = {"client_id": self._settings.oidc_client_id, "post_logout_redirect_uri": f"{self._settings.public_url}/"}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{(await self.metadata())['end_session_endpoint']}?{urlencode(query)}"
