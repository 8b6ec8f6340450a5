"""Who may see and act on intake's files: every endpoint × every role × own or another association."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from shared.auth import AUDIENCE, ISSUER, Principal, issue_token
from tests.integration.conftest import RunningService, ServiceStarter
from tests.support import intake as files
from tests.support import tokens
from tests.support.tokens import TEST_JWT_SECRET, bearer

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


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_each_role_reaches_only_its_associations_files(endpoint: Endpoint, caller: str, start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    ids = await _prepare(intake)
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
    "the funnel": ("GET", "/funnel", None, {"from": "2026-03-01", "to": "2026-03-31"}, {**expect(200, other=200), "ops": 200}),
}


@pytest.mark.parametrize("endpoint", list(NO_ID))
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_banks_never_reach_intake_and_ops_only_the_funnel(endpoint: str, caller: str, start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    method, path, body, query, expected = NO_ID[endpoint]

    response = await intake.http.request(method, path, json=body, params=query, headers=bearer(CALLERS[caller]))

    assert response.status_code == expected[caller], response.text
    if response.status_code == 403:
        assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == ("role", "forbidden_role")


async def test_another_associations_member_sees_none_of_its_files(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    await _prepare(intake)

    listed = await intake.http.get("/applications", headers=bearer(tokens.supervisor(sub="s-blanc", association="restos-du-coeur")))

    assert listed.json() == []


def _signed(claims: dict[str, Any], secret: str = TEST_JWT_SECRET) -> str:
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")


NOW_TS = int(datetime.now(UTC).timestamp())
GOOD_CLAIMS = {"sub": "c-lefebvre", "role": "counsellor", "association_id": "secours-catholique", "region": "hauts-de-france",
               "iss": ISSUER, "aud": AUDIENCE, "iat": NOW_TS, "exp": NOW_TS + 3600}
BAD_AUTHORIZATION: dict[str, str | None] = {
    "no header": None,
    "not a JWT": "Bearer dossier-42",
    "another scheme": "Basic YWRtaW46YWRtaW4=",
    "signed with another secret": _signed(GOOD_CLAIMS, secret="not-the-platform-secret-0123456789abcdef"),
    "expired": "Bearer " + issue_token(tokens.counsellor(), TEST_JWT_SECRET, now=datetime.now(UTC) - timedelta(hours=9)),
    "for another audience": _signed({**GOOD_CLAIMS, "aud": "some-other-platform"}),
    "a counsellor without an association": _signed({k: v for k, v in GOOD_CLAIMS.items() if k != "association_id"}),
}
ALL_ENDPOINTS = [(e.method, e.path, e.body) for e in ENDPOINTS] + [(m, p, b) for m, p, b, _, _ in NO_ID.values()]


@pytest.mark.parametrize("authorization", list(BAD_AUTHORIZATION))
async def test_no_valid_token_answers_401_naming_the_header_on_every_endpoint(authorization: str, start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    ids = await _prepare(intake)
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
