"""Access tokens for in-process tests: signed by a test issuer whose public key the services are given.

The services verify them exactly as they verify Keycloak's (`shared/oidc.py`: RS256 signature by a
published key, issuer, audience, expiry on the service's clock); only the key set is handed to the app
instead of being fetched. End-to-end and contract tests use real Keycloak tokens (tests/support/keycloak.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.auth import AUDIENCE, Principal, Role
from shared.oidc import KeySet

TEST_ISSUER = "https://identity.test.invalid/realms/microcredit"
KEY_ID = "test-signing-key"


@cache
def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict[str, Any]:
    """The test issuer's published keys (what Keycloak serves at its `jwks_uri`)."""
    public = RSAAlgorithm.to_jwk(_private_key().public_key(), as_dict=True)
    return {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}


@contextmanager
def published_keys() -> Iterator[str]:
    """The test issuer's keys served over HTTP on a free loopback port, as Keycloak serves its `jwks_uri`; their URL.

    For service processes that fetch the keys themselves (`OIDC_JWKS_URL`) and should trust the tokens `sign` makes."""
    body = json.dumps(jwks()).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass  # no line on the test's output per fetch

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, name="test-jwks", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_keys(now: Callable[[], datetime]) -> KeySet:
    """The key set a service under test trusts: the test issuer's, on the service's clock."""
    return KeySet.published(TEST_ISSUER, jwks(), now=now)


def sign(claims: dict[str, Any], *, kid: str = KEY_ID, algorithm: str = "RS256") -> str:
    """A token with these exact claims, signed with the test issuer's key (given as a key object: a PEM is checked at each load, 25 ms)."""
    return jwt.encode(claims, _private_key(), algorithm=algorithm, headers={"kid": kid})


def claims_of(principal: Principal, *, now: datetime | None = None, ttl: timedelta = timedelta(hours=1)) -> dict[str, Any]:
    """The claims Keycloak's realm puts in an access token for `principal`."""
    issued = now or datetime.now(UTC)
    claims = {
        "iss": TEST_ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid5(NAMESPACE_URL, principal.subject)),
        "preferred_username": principal.subject,
        "role": principal.role.value,
        "association_id": principal.association_id,
        "region": principal.region,
        "bank_id": principal.bank_id,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return {k: v for k, v in claims.items() if v is not None}


# Signing is RSA (about a millisecond): a token issued on the wall clock is reused for a quarter of its life, as
# a client keeps its token, rather than signed again for each of the suite's thousands of requests.
_ISSUED: dict[tuple[Principal, timedelta], tuple[str, datetime]] = {}


def access_token(principal: Principal, *, now: datetime | None = None, ttl: timedelta = timedelta(hours=1)) -> str:
    """A valid access token for `principal`, issued `now` (default: the wall clock, or the same one a moment ago)."""
    if now is not None:
        return sign(claims_of(principal, now=now, ttl=ttl))
    issued = datetime.now(UTC)
    kept = _ISSUED.get((principal, ttl))
    if kept is not None and issued - kept[1] < ttl / 4:
        return kept[0]
    token = sign(claims_of(principal, now=issued, ttl=ttl))
    _ISSUED[principal, ttl] = (token, issued)
    return token


def bearer(principal: Principal) -> dict[str, str]:
    """The Authorization header of `principal`."""
    return {"Authorization": f"Bearer {access_token(principal)}"}


def counsellor(sub: str = "c-lefebvre", association: str = "secours-catholique", region: str = "hauts-de-france") -> Principal:
    """A counsellor of an association."""
    return Principal(subject=sub, role=Role.COUNSELLOR, association_id=association, region=region)


def supervisor(sub: str = "s-marchand", association: str = "secours-catholique", region: str = "hauts-de-france") -> Principal:
    """A supervisor of an association."""
    return Principal(subject=sub, role=Role.SUPERVISOR, association_id=association, region=region)


def bank(bank_id: str = "credit-mutuel-nord") -> Principal:
    """A partner bank's system."""
    return Principal(subject=f"svc-{bank_id}", role=Role.BANK, bank_id=bank_id)


def ops(sub: str = "ops-durand") -> Principal:
    """Someone of the ops team."""
    return Principal(subject=sub, role=Role.OPS)


def admin(sub: str = "adm-moreau") -> Principal:
    """An administrator of the directory."""
    return Principal(subject=sub, role=Role.ADMIN)


def dpo(sub: str = "dpo-lambert") -> Principal:
    """The data protection officer (délégué à la protection des données)."""
    return Principal(subject=sub, role=Role.DPO)
