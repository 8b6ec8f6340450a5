"""Who may see and act on intake's files: every endpoint × every role × own or another association."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.auth import Principal
from tests.integration.conftest import NOW, PreparedService, RunningService, ServiceStarter, prepared_once, service_for_request
from tests.support import intake as files
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

# Every file below belongs to Secours Catholique, Hauts-de-France, followed by c-lefebvre.
CALLERS: dict[str, Principal] = {
    "own counsellor": tokens.counsellor(),
    "colleague counsellor": tokens.counsellor(sub="c-roux"),
    "other association's counsellor": tokens.counsellor(sub="c-petit", association="restos-du-coeur"),
    "own supervisor": tokens.supervisor(),
    "other association's supervisor": tokens.supervisor(sub="s-blanc", association="restos-du-coeur"),
    "bank": tokens.bank(),
    "ops": tokens.ops(),
}


def expect(same: int, other: int = 404, outsiders: int = 403) -> dict[str, int]:
    """The association's members get `same`, another association's `other`, banks and ops `outsiders`."""
    return {
        "own counsellor": same, "colleague counsellor": same, "own supervisor": same,
        "other association's counsellor": other, "other association's supervisor": other,
        "bank": outsiders, "ops": outsiders,
    }


@dataclass(frozen=True)
class Endpoint:
    """One endpoint taking a file id, a request that would succeed, and what each caller gets."""

    method: str
    path: str
    expected: dict[str, int]
    body: dict[str, Any] | None = None
    on: str = "submitted"  # which prepared file the request targets

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/applications/{id}", expect(200)),
    Endpoint("PATCH", "/applications/{id}", expect(200), body={"documents": {"bank_statements": {"status": "verified"}}}),
    Endpoint("POST", "/applications/{id}/submission", expect(200), body={}, on="draft"),
    Endpoint("POST", "/applications/{id}/withdrawal", expect(200), body={"reason": "A retrouvé un emploi avec véhicule de fonction."}),
    Endpoint("GET", "/applications/{id}/audit", expect(200)),
]


async def _prepare(service: RunningService) -> dict[str, str]:
    """A complete draft and a submitted file of c-lefebvre."""
    owner = bearer(tokens.counsellor())
    ids = {}
    for name in ("draft", "submitted"):
        response = await service.http.post("/applications", json=files.complete_file(), headers=owner)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    submitted = await service.http.post(f"/applications/{ids['submitted']}/submission", json={}, headers=owner)
    assert submitted.status_code == 200, submitted.text
    return ids


@pytest.fixture(scope="module")
async def prepared_service(postgres: str) -> AsyncIterator[PreparedService]:
    """Intake started and prepared once for the module's requests that change nothing (reads, refusals)."""
    async with prepared_once(postgres, _prepare) as get:
        yield get


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_each_role_reaches_only_its_associations_files(
    endpoint: Endpoint, caller: str, postgres: str, prepared_service: PreparedService
) -> None:
    async with service_for_request(endpoint.method, endpoint.expected[caller], "intake", prepared_service, postgres, _prepare) as (
        intake, ids
    ):
        outbox_before = len(await intake.fetch("select id from outbox"))

        response = await intake.http.request(
            endpoint.method, endpoint.path.format(id=ids[endpoint.on]), json=endpoint.body, headers=bearer(CALLERS[caller])
        )

        assert response.status_code == endpoint.expected[caller], response.text
        if response.status_code == 404:
            # Another association's file is answered exactly as an unknown one: its existence is not disclosed.
            assert response.json()["title"] == "application not found"
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert len(await intake.fetch("select id from outbox")) == outbox_before  # a refused request changes nothing


NO_ID = {
    "open a file": ("POST", "/applications", files.complete_file(), None, {**expect(201, other=201)}),
    "list files": ("GET", "/applications", None, None, expect(200, other=200)),
    "log a first contact": ("POST", "/contacts", {"referral_source": "ccas", "outcome": "appointment"}, None, expect(201, other=201)),
    "list first contacts": ("GET", "/contacts", None, None, expect(200, other=200)),
    "the funnel": ("GET", "/funnel", None, {"from": "2026-03-01", "to": "2026-03-31"}, {**expect(200, other=200), "ops": 200}),
    "list dead letters": ("GET", "/operations/dead-letters", None, None, {**expect(403, other=403), "ops": 200}),
    "replay dead letters": ("POST", "/operations/dead-letter-replays", {"reason": "rejected"}, None, {**expect(403, other=403), "ops": 200}),
}


@pytest.mark.parametrize("endpoint", list(NO_ID))
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_banks_never_reach_intake_and_ops_only_the_funnel_and_the_dead_letters(
    endpoint: str, caller: str, postgres: str, prepared_service: PreparedService
) -> None:
    method, path, body, query, expected = NO_ID[endpoint]
    async with service_for_request(method, expected[caller], "intake", prepared_service, postgres, _prepare) as (intake, _):
        response = await intake.http.request(method, path, json=body, params=query, headers=bearer(CALLERS[caller]))

    assert response.status_code == expected[caller], response.text
    if response.status_code == 403:
        assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == ("role", "forbidden_role")


async def test_another_associations_member_sees_none_of_its_files(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    await _prepare(intake)

    listed = await intake.http.get("/applications", headers=bearer(tokens.supervisor(sub="s-blanc", association="restos-du-coeur")))

    assert listed.json() == []


def _signed(claims: dict[str, Any]) -> str:
    return "Bearer " + tokens.sign(claims)


def _unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`: a header, the claims, and no signature at all."""
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return f"Bearer {part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _with_public_key_as_secret(claims: dict[str, Any]) -> str:
    """The algorithm-confusion attack: HS256 "signed" with the issuer's published RSA key as the secret."""
    public = RSAAlgorithm.from_jwk(tokens.jwks()["keys"][0])
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": tokens.KEY_ID}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(hmac.new(pem, header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    return "Bearer " + (header + b"." + body + b"." + signature).decode()


def _signed_by_another_key(claims: dict[str, Any]) -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return "Bearer " + jwt.encode(claims, pem, algorithm="RS256", headers={"kid": tokens.KEY_ID})


def _altered(token: str) -> str:
    head, body, signature = token.removeprefix("Bearer ").split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    return f"Bearer {head}.{body}.{flipped}"


# The services under test run on the conftest's clock (NOW): tokens are issued relative to it.
GOOD_CLAIMS = tokens.claims_of(tokens.counsellor(), now=NOW)
BAD_AUTHORIZATION: dict[str, str | None] = {
    "no header": None,
    "not a JWT": "Bearer dossier-42",
    "another scheme": "Basic YWRtaW46YWRtaW4=",
    "signed with another key": _signed_by_another_key(GOOD_CLAIMS),
    "signature altered": _altered(_signed(GOOD_CLAIMS)),
    "alg none": _unsigned(GOOD_CLAIMS),
    "HS256 with the public key as secret": _with_public_key_as_secret(GOOD_CLAIMS),
    "expired": _signed(tokens.claims_of(tokens.counsellor(), now=NOW - timedelta(hours=9))),
    "not valid yet": _signed({**GOOD_CLAIMS, "nbf": int((NOW + timedelta(hours=1)).timestamp())}),
    "from another issuer": _signed({**GOOD_CLAIMS, "iss": "https://identity.elsewhere.example/realms/microcredit"}),
    "for another audience": _signed({**GOOD_CLAIMS, "aud": "some-other-platform"}),
    "a key the issuer does not publish": "Bearer " + tokens.sign(GOOD_CLAIMS, kid="retired-key"),
    "no role of the platform": _signed({**GOOD_CLAIMS, "role": "offline_access"}),
    "a counsellor without an association": _signed({k: v for k, v in GOOD_CLAIMS.items() if k != "association_id"}),
}
ALL_ENDPOINTS = [(e.method, e.path, e.body) for e in ENDPOINTS] + [(m, p, b) for m, p, b, _, _ in NO_ID.values()]


@pytest.mark.parametrize("authorization", list(BAD_AUTHORIZATION))
async def test_no_valid_token_answers_401_naming_the_header_on_every_endpoint(authorization: str, prepared_service: PreparedService) -> None:
    intake, ids = await prepared_service("intake")
    value = BAD_AUTHORIZATION[authorization]
    headers = {"Authorization": value} if value else {}

    for method, path, body in ALL_ENDPOINTS:
        query = {"from": "2026-03-01", "to": "2026-03-31"} if path == "/funnel" else None
        response = await intake.http.request(method, path.format(id=ids["submitted"]), json=body, params=query, headers=headers)

        assert response.status_code == 401, f"{method} {path}: {response.text}"
        assert response.headers["content-type"] == "application/problem+json"
        assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("Authorization", "bearer_token")]
    if authorization == "expired":
        assert "expired" in response.json()["detail"]
