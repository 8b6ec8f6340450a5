"""Tokens issued by the real Keycloak: accepted when they are the platform's, refused with 401 otherwise.

A service here (intake, in this process) trusts the realm's issuer and fetches its published keys as
in production; its clock is injected, so expiry and key-cache lifetimes are moved, not waited for.
Rotation happens in a realm of its own (a copy of the platform's), so no other test sees its keys change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from deploy.local.identity import LocalIdentity
from deploy.local.keycloak import REALM, REALM_FILE
from shared.clock import FixedClock
from tests.integration.conftest import RunningService, run_service
from tests.support import tokens

pytestmark = pytest.mark.integration

LEEWAY = 30.0


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _part(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


async def _published_keys(issuer: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        discovery = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
        return (await http.get(discovery["jwks_uri"])).json()


@pytest.fixture
async def intake(keycloak: LocalIdentity, database: str) -> AsyncIterator[RunningService]:
    """Intake trusting the platform's realm, on a clock set to now."""
    async with run_service("intake", database, clock=FixedClock(datetime.now(UTC)), issuer=keycloak.issuer) as service:
        yield service


async def _files(service: RunningService, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return await service.http.get("/applications", headers=headers)


def _refused(response: httpx.Response, why: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("Authorization", "bearer_token")]
    assert re.search(why, response.json()["detail"]), response.json()["detail"]


async def test_a_counsellors_keycloak_token_opens_her_associations_files(intake: RunningService, keycloak: LocalIdentity) -> None:
    token = await keycloak.token(tokens.counsellor())

    response = await _files(intake, f"Bearer {token}")

    assert response.status_code == 200, response.text
    claims = _claims(token)
    assert (claims["iss"], claims["aud"], claims["role"], claims["association_id"]) == (
        keycloak.issuer, "microcredit-platform", "counsellor", "secours-catholique"
    )
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


async def test_no_token_is_refused(intake: RunningService) -> None:
    _refused(await _files(intake, None), "header is required")


async def test_an_expired_token_is_refused_once_past_the_leeway(intake: RunningService, keycloak: LocalIdentity) -> None:
    token = await keycloak.token(tokens.counsellor())
    expires = datetime.fromtimestamp(_claims(token)["exp"], UTC)

    intake.clock.instant = expires + timedelta(seconds=LEEWAY - 5)
    within = await _files(intake, f"Bearer {token}")
    intake.clock.instant = expires + timedelta(seconds=LEEWAY + 1)
    after = await _files(intake, f"Bearer {token}")

    assert within.status_code == 200
    _refused(after, "expired")


async def test_a_token_of_another_issuer_is_refused(intake: RunningService, keycloak: LocalIdentity) -> None:
    async with httpx.AsyncClient() as http:
        master = (await keycloak.admin_headers(http))["Authorization"]  # Keycloak's own master realm signed it

    _refused(await _files(intake, master), "issued by .*realms/master")


async def test_a_token_for_another_audience_is_refused(intake: RunningService, keycloak: LocalIdentity) -> None:
    client_id = f"other-app-{uuid4().hex[:6]}"
    async with httpx.AsyncClient() as http:
        admin = await keycloak.admin_headers(http)
        created = await http.post(f"{keycloak.url}/admin/realms/{REALM}/clients", headers=admin, json={
            "clientId": client_id, "publicClient": True, "directAccessGrantsEnabled": True, "standardFlowEnabled": False,
            "defaultClientScopes": ["basic", "profile"],  # not the platform's scope: no audience
        })
        assert created.status_code == 201, created.text
        answer = await http.post(f"{keycloak.issuer}/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": client_id, "username": "c-lefebvre",
            "password": keycloak.password("c-lefebvre"),
        })
    token = answer.json()["access_token"]

    assert "microcredit-platform" not in str(_claims(token).get("aud"))
    _refused(await _files(intake, f"Bearer {token}"), "not meant for this platform")


async def test_alg_none_is_refused(intake: RunningService, keycloak: LocalIdentity) -> None:
    claims = _claims(await keycloak.token(tokens.counsellor()))

    _refused(await _files(intake, f"Bearer {_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}."), "'none' is not accepted")


async def test_hs256_signed_with_the_published_public_key_is_refused(intake: RunningService, keycloak: LocalIdentity) -> None:
    token = await keycloak.token(tokens.counsellor())
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [k for k in (await _published_keys(keycloak.issuer))["keys"] if k["kid"] == kid]
    pem = RSAAlgorithm.from_jwk(key).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_part(_claims(token))}"
    signature = base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()

    _refused(await _files(intake, f"Bearer {signing_input}.{signature}"), "'HS256' is not accepted")


async def test_a_token_whose_signature_was_altered_is_refused(intake: RunningService, keycloak: LocalIdentity) -> None:
    head, body, signature = (await keycloak.token(tokens.counsellor())).split(".")
    altered = signature[:20] + ("A" if signature[20] != "A" else "B") + signature[21:]

    _refused(await _files(intake, f"Bearer {head}.{body}.{altered}"), "signature does not match")


async def test_a_token_whose_claims_were_changed_is_refused(intake: RunningService, keycloak: LocalIdentity) -> None:
    head, body, signature = (await keycloak.token(tokens.counsellor())).split(".")
    claims = {**_claims(f"{head}.{body}.{signature}"), "association_id": "restos-du-coeur"}

    _refused(await _files(intake, f"Bearer {head}.{_part(claims)}.{signature}"), "signature does not match")


# --- rotation, in a realm of its own ---------------------------------------------------------------


@pytest.fixture
async def rotating_realm(keycloak: LocalIdentity) -> AsyncIterator[LocalIdentity]:
    """A copy of the platform's realm, dropped afterwards: its keys can be rotated without touching the others'."""
    name = f"rotation-{uuid4().hex[:8]}"
    text = re.sub(r"\$\{(MC_[A-Z0-9_]+)\}", lambda m: keycloak.secrets.get(m.group(1), "http://127.0.0.1:8000"), REALM_FILE.read_text())
    realm = {**json.loads(text), "realm": name}
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await keycloak.admin_headers(http)
        created = await http.post(f"{keycloak.url}/admin/realms", headers=admin, json=realm)
        assert created.status_code == 201, created.text
        try:
            yield LocalIdentity(url=keycloak.url, secrets=keycloak.secrets, realm=name)
        finally:
            await http.delete(f"{keycloak.url}/admin/realms/{name}", headers=await keycloak.admin_headers(http))


async def test_a_rotated_key_is_taken_without_restart_and_a_removed_key_is_refused(
    rotating_realm: LocalIdentity, keycloak: LocalIdentity, database: str
) -> None:
    clock = FixedClock(datetime.now(UTC))
    async with AsyncExitStack() as stack:
        intake = await stack.enter_async_context(run_service("intake", database, clock=clock, issuer=rotating_realm.issuer))
        before = await rotating_realm.token(tokens.counsellor())
        assert (await _files(intake, f"Bearer {before}")).status_code == 200

        async with httpx.AsyncClient() as http:
            admin = await keycloak.admin_headers(http)
            components = f"{keycloak.url}/admin/realms/{rotating_realm.realm}/components"
            realm_id = (await http.get(f"{keycloak.url}/admin/realms/{rotating_realm.realm}", headers=admin)).json()["id"]
            old = [c for c in (await http.get(components, params={"type": "org.keycloak.keys.KeyProvider"}, headers=admin)).json()
                   if c["providerId"] == "rsa-generated"]
            added = await http.post(components, headers=admin, json={
                "name": "rsa-rotated", "providerId": "rsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": realm_id, "config": {"priority": ["500"], "keySize": ["2048"], "algorithm": ["RS256"]},
            })
            assert added.status_code == 201, added.text
            rotating_realm._tokens.clear()  # the next token must come from the new key
            after = await rotating_realm.token(tokens.counsellor())
            assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]

            clock.advance(timedelta(seconds=10))  # past the rate limit on fetching the keys again
            taken = await _files(intake, f"Bearer {after}")
            for component in old:
                assert (await http.delete(f"{components}/{component['id']}", headers=admin)).status_code == 204
        still_cached = await _files(intake, f"Bearer {before}")
        clock.advance(timedelta(seconds=301))  # the keys kept are older than their time to live
        removed = await _files(intake, f"Bearer {before}")

    assert taken.status_code == 200, taken.text  # no restart: the unknown key id made the service fetch again
    assert still_cached.status_code == 200  # until the keys kept expire, as any cache would
    _refused(removed, "does not publish")
