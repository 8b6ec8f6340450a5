"""Who may see and act on assessments: every endpoint taking an id × every role × own or another's file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from shared.auth import Principal
from tests.integration.conftest import (
    TODAY, PreparedService, RunningService, ServiceStarter, application_submitted, prepared_once, service_for_request,
)
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

# Both files belong to Secours Catholique (counsellor c-lefebvre); the routed one went to Crédit Mutuel Nord.
CALLERS: dict[str, Principal] = {
    "own counsellor": tokens.counsellor(),
    "colleague counsellor": tokens.counsellor(sub="c-roux"),
    "other association's counsellor": tokens.counsellor(sub="c-petit", association="restos-du-coeur"),
    "own supervisor": tokens.supervisor(),
    "other association's supervisor": tokens.supervisor(association="restos-du-coeur"),
    "routed bank": tokens.bank("credit-mutuel-nord"),
    "other bank": tokens.bank("la-banque-postale"),
    "ops": tokens.ops(),
}


@dataclass(frozen=True)
class Endpoint:
    """One endpoint taking an id, the file it is called on, and what each caller gets."""

    method: str
    path: str
    expected: dict[str, int]
    body: dict[str, Any] | None = None


ASSOCIATION = {
    "own counsellor": 200, "colleague counsellor": 200, "other association's counsellor": 404,
    "own supervisor": 200, "other association's supervisor": 404,
    "routed bank": 403, "other bank": 403, "ops": 403,
}
BANK = {
    "own counsellor": 403, "colleague counsellor": 403, "other association's counsellor": 403,
    "own supervisor": 403, "other association's supervisor": 403,
    "routed bank": 200, "other bank": 404, "ops": 403,
}
FICP = {"consulted_on": TODAY.isoformat(), "result": "not_registered"}
FAVOURABLE = {"outcome": "favourable", "opinion": "Projet solide.", "bank_id": "credit-mutuel-nord", "amount_cents": 300_000,
              "duration_months": 36, "annual_rate": "0.035"}
UNFAVOURABLE = {"outcome": "unfavourable", "opinion": "Charges trop lourdes pour l'instant.",
                "reason_codes": ["insufficient_remaining"], "orientation": "budget_coaching"}
APPROVAL = {"decision": "approve", "amount_cents": 300_000, "annual_rate": "0.035", "duration_months": 36,
            "first_due_date": date(2026, 4, 5).isoformat()}

ENDPOINTS = [
    Endpoint("GET", "/assessments/{routed}", ASSOCIATION),
    Endpoint("GET", "/assessments/{routed}/audit", ASSOCIATION),
    Endpoint("POST", "/assessments/{pending}/ficp", ASSOCIATION, FICP),
    Endpoint("POST", "/assessments/{pending}/outcome", ASSOCIATION, UNFAVOURABLE),
    Endpoint("GET", "/bank/files/{routed}", BANK),
    Endpoint("POST", "/bank/files/{routed}/decision", BANK, APPROVAL),
]


async def _prepare(service: RunningService) -> dict[str, str]:
    """A file pending review and a file routed to Crédit Mutuel Nord, both c-lefebvre's."""
    pending, routed = application_submitted(), application_submitted(applicant_name="Julien Moreau")
    for event in (pending, routed):
        await service.deliver(event)
    ids = {"pending": str(pending.data.application_id), "routed": str(routed.data.application_id)}
    owner = bearer(tokens.counsellor())
    assert (await service.http.post(f"/assessments/{ids['routed']}/ficp", json=FICP, headers=owner)).status_code == 200
    assert (await service.http.post(f"/assessments/{ids['routed']}/outcome", json=FAVOURABLE, headers=owner)).status_code == 200
    return ids


@pytest.fixture(scope="module")
async def prepared_service(postgres: str) -> AsyncIterator[PreparedService]:
    """Each service started and prepared once for the module's requests that change nothing (reads, refusals)."""
    async with prepared_once(postgres, _prepare) as get:
        yield get


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_each_role_sees_only_what_is_its_own(
    endpoint: Endpoint, caller: str, postgres: str, prepared_service: PreparedService
) -> None:
    async with service_for_request(endpoint.method, endpoint.expected[caller], "assessment", prepared_service, postgres, _prepare) as (
        service, ids
    ):
        response = await service.http.request(
            endpoint.method, endpoint.path.format(**ids), json=endpoint.body, headers=bearer(CALLERS[caller])
        )

        assert response.status_code == endpoint.expected[caller], response.text
        if response.status_code == 404:
            # Another's file is answered exactly as an unknown one: its existence is not disclosed.
            unknown = await service.http.request(
                endpoint.method, endpoint.path.format(pending="5d0c1f9e-0000-4000-8000-000000000000",
                                                      routed="5d0c1f9e-0000-4000-8000-000000000000"),
                json=endpoint.body, headers=bearer(CALLERS[caller]),
            )
            assert unknown.status_code == 404
            assert response.json()["title"] == unknown.json()["title"]
            assert set(response.json()) == set(unknown.json())


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt", "Basic YWRtaW46YWRtaW4="])
async def test_no_valid_token_answers_401_naming_the_header(
    endpoint: Endpoint, authorization: str | None, prepared_service: PreparedService
) -> None:
    service, ids = await prepared_service("assessment")
    path = endpoint.path.format(**ids)
    headers = {"Authorization": authorization} if authorization else {}

    response = await service.http.request(endpoint.method, path, json=endpoint.body, headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "Authorization"


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("own counsellor", ["Nadia Benali", "Julien Moreau"]),
        ("colleague counsellor", []),
        ("own supervisor", ["Nadia Benali", "Julien Moreau"]),
        ("other association's counsellor", []),
        ("other association's supervisor", []),
    ],
)
async def test_the_review_queue_lists_only_the_callers_files(caller: str, expected: list[str], start_service: ServiceStarter) -> None:
    service = await start_service("assessment")
    await _prepare(service)

    queue = await service.http.get("/assessments", headers=bearer(CALLERS[caller]))

    assert queue.status_code == 200
    assert sorted(f["applicant_name"] for f in queue.json()) == sorted(expected)


@pytest.mark.parametrize(("caller", "expected"), [("routed bank", ["Julien Moreau"]), ("other bank", [])])
async def test_a_bank_lists_only_the_files_routed_to_it(caller: str, expected: list[str], start_service: ServiceStarter) -> None:
    service = await start_service("assessment")
    await _prepare(service)

    files = await service.http.get("/bank/files", headers=bearer(CALLERS[caller]))
    awaiting = await service.http.get("/bank/files", params={"status": "routed"}, headers=bearer(CALLERS[caller]))
    decided = await service.http.get("/bank/files", params={"status": "approved"}, headers=bearer(CALLERS[caller]))

    assert [f["applicant_name"] for f in files.json()] == expected
    assert [f["applicant_name"] for f in awaiting.json()] == expected
    assert decided.json() == []


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/assessments", {"own counsellor", "colleague counsellor", "other association's counsellor", "own supervisor",
                       "other association's supervisor"}),
     ("/bank/files", {"routed bank", "other bank"})],
)
async def test_lists_refuse_the_roles_they_are_not_for(path: str, allowed: set[str], start_service: ServiceStarter) -> None:
    service = await start_service("assessment")

    statuses = {caller: (await service.http.get(path, headers=bearer(p))).status_code for caller, p in CALLERS.items()}

    assert statuses == {caller: 200 if caller in allowed else 403 for caller in CALLERS}


async def test_only_ops_run_the_timers(start_service: ServiceStarter) -> None:
    service = await start_service("assessment")

    statuses = {caller: (await service.http.post("/operations/timers", json={}, headers=bearer(p))).status_code
                for caller, p in CALLERS.items()}

    assert statuses == {caller: 200 if caller == "ops" else 403 for caller in CALLERS}
