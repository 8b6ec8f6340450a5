"""Access tokens verified with the identity provider's published keys (OpenID Connect discovery → JWKS).

No service holds a key that can sign. Each one fetches the issuer's public keys, keeps them by key id,
and fetches them again when a token names a key id it does not know (a key rotated in Keycloak is
accepted without a restart) or when what it keeps is older than its time to live (a key removed from
Keycloak stops being accepted). Only asymmetric algorithms are accepted, so neither `alg: none` nor
an HS256 token "signed" with the public key as a secret can pass. Expiry and not-before are checked
on the service's injected clock, with a small leeway for the clocks of two machines.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWS
from jwt.utils import base64url_decode

log = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud")
_JWS = PyJWS()


class TokenRefused(Exception):
    """The token is not one the platform accepts; the message says why (the 401 problem's detail)."""


class KeySet:
    """The issuer's public signing keys, by key id, fetched when needed and kept for `ttl_seconds`."""

    def __init__(
        self,
        issuer: str,
        *,
        now: Callable[[], datetime],
        jwks_url: str | None = None,
        ttl_seconds: float = 300.0,
        min_refresh_seconds: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._now = now
        self._jwks_url = jwks_url
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds  # an unknown key id cannot make us hammer the provider
        self._client = client
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: datetime | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def published(cls, issuer: str, jwks: Mapping[str, Any], *, now: Callable[[], datetime]) -> KeySet:
        """Keys given at once and never fetched (a test issuer whose JWKS is in memory)."""
        keys = cls(issuer, now=now, ttl_seconds=float("inf"), min_refresh_seconds=float("inf"))
        keys._keys = _parse(jwks, issuer)
        keys._fetched_at = now()
        return keys

    def _age(self) -> float:
        return float("inf") if self._fetched_at is None else (self._now() - self._fetched_at).total_seconds()

    def trusts(self, kid: str) -> bool:
        """Whether key `kid` is published and the keys kept are still fresh (no fetch needed to say so)."""
        return kid in self._keys and self._age() <= self._ttl

    async def key(self, kid: str) -> PyJWK:
        """The public key `kid`: fetched again when unknown or when the keys kept are too old."""
        if self._age() > self._ttl or kid not in self._keys:
            await self._refresh()
        try:
            return self._keys[kid]
        except KeyError:
            raise TokenRefused(f"the token is signed with key {kid!r}, which the issuer does not publish") from None

    async def _refresh(self) -> None:
        async with self._lock:
            if self._age() < self._min_refresh:
                return  # fetched a moment ago (perhaps by a concurrent request): an unknown key id stays unknown
            client = self._client or httpx.AsyncClient(timeout=5.0)
            try:
                url = self._jwks_url or str((await _json(client, f"{self.issuer}/.well-known/openid-configuration"))["jwks_uri"])
                document = await _json(client, url)
            finally:
                if self._client is None:
                    await client.aclose()
            self._keys = _parse(document, self.issuer)
            self._fetched_at = self._now()

    async def aclose(self) -> None:
        """Close the HTTP client, if this key set owns one."""
        if self._client is not None:
            await self._client.aclose()


def _parse(document: Mapping[str, Any], issuer: str) -> dict[str, PyJWK]:
    keys: dict[str, PyJWK] = {}
    for entry in document.get("keys", []):
        if entry.get("use", "sig") != "sig" or "kid" not in entry:
            continue  # Keycloak also publishes an encryption key
        try:
            keys[entry["kid"]] = PyJWK(entry)
        except jwt.PyJWKError as exc:  # a key type this library cannot use: skip it, keep the others
            log.warning("ignoring key %s of %s: %s", entry.get("kid"), issuer, exc)
    return keys


async def _json(client: httpx.AsyncClient, url: str) -> Mapping[str, Any]:
    try:
        response = await client.get(url)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise TokenRefused(f"the identity provider does not answer ({url}): {exc}") from None


class TokenVerifier:
    """Checks an access token: signature by the issuer's key, issuer, audience, expiry and not-before.

    A token verified once is remembered (by its exact text, at most `cache_size` of them) while the key
    that signed it is still published and fresh: a person's next requests with the same token cost a
    dictionary look-up and the time checks, not another RSA verification.
    """

    def __init__(
        self, keys: KeySet, *, audience: str, leeway_seconds: float, now: Callable[[], datetime], cache_size: int = 4096
    ) -> None:
        self.keys = keys
        self.audience = audience
        self.leeway = leeway_seconds
        self._now = now
        self._cache_size = cache_size
        self._verified: OrderedDict[str, tuple[dict[str, Any], str]] = OrderedDict()

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`, or `TokenRefused` saying why not."""
        remembered = self._verified.get(token)
        if remembered is not None and self.keys.trusts(remembered[1]):
            self._verified.move_to_end(token)
            self._check_time(remembered[0])
            return remembered[0]
        claims, kid = await self._verify(token)
        self._verified[token] = (claims, kid)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str) -> tuple[dict[str, Any], str]:
        try:
            encoded_header, encoded_claims, _ = token.split(".")
            header = json.loads(base64url_decode(encoded_header))
            claims = json.loads(base64url_decode(encoded_claims))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise TokenRefused(f"not a JSON Web Token: {exc}") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenRefused("not a JSON Web Token: its header and claims must be JSON objects")
        algorithm = header.get("alg")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise TokenRefused(f"algorithm {algorithm!r} is not accepted: only the issuer's asymmetric keys sign tokens")
        if str(claims.get("iss", "")).rstrip("/") != self.keys.issuer:
            raise TokenRefused(f"the token was issued by {claims.get('iss')!r}, not by {self.keys.issuer}")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRefused("the token names no signing key (`kid`)")
        key = await self.keys.key(kid)
        if key.algorithm_name != algorithm:
            raise TokenRefused(f"key {kid!r} signs with {key.algorithm_name}, the token says {algorithm}")
        try:
            _JWS.decode_complete(token, key.key, algorithms=[algorithm])  # the signature covers the claims read above
        except jwt.InvalidSignatureError:
            raise TokenRefused("the token's signature does not match its content") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"invalid token: {exc}") from None
        for claim in REQUIRED_CLAIMS:
            if claim not in claims:
                if claim == "aud":
                    raise TokenRefused(f"the token is not meant for this platform (no audience, {self.audience!r} wanted)")
                raise TokenRefused(f"the token lacks its `{claim}` claim")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if self.audience not in audiences:
            raise TokenRefused(f"the token is not meant for this platform (audience {self.audience!r})")
        self._check_time(claims)
        return claims, kid

    def _check_time(self, claims: Mapping[str, Any]) -> None:
        now = self._now().timestamp()
        try:
            expires, not_before = float(claims["exp"]), float(claims.get("nbf", 0))
        except (TypeError, ValueError):
            raise TokenRefused("the token's `exp` or `nbf` is not a number") from None
        if now > expires + self.leeway:
            raise TokenRefused("the token has expired")
        if now + self.leeway < not_before:
            raise TokenRefused("the token is not valid yet (`nbf`)")
