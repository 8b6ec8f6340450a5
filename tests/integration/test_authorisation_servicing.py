"""Who may see and act on loans and alerts: every endpoint taking an id × every role × own or another's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.servicing.domain import loan_id_for
from shared.auth import Principal, issue_token
from tests.integration.conftest import TODAY, RunningService, ServiceStarter, loan_approved, payment_missed
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

# The loans and alerts below belong to Secours Catholique (counsellor c-lefebvre), lent by Crédit Mutuel Nord.
CALLERS: dict[str, Principal] = {
    "own counsellor": tokens.counsellor(),
    "colleague counsellor": tokens.counsellor(sub="c-roux"),
    "other association's counsellor": tokens.counsellor(sub="c-petit", association="restos-du-coeur"),
    "own supervisor": tokens.supervisor(),
    "other association's supervisor": tokens.supervisor(association="restos-du-coeur"),
    "lending bank": tokens.bank("credit-mutuel-nord"),
    "other bank": tokens.bank("la-banque-postale"),
    "ops": tokens.ops(),
}


@dataclass(frozen=True)
class Endpoint:
    """One endpoint taking an id, how to call it, and what each caller gets."""

    service: str
    method: str
    path: str
    expected: dict[str, int]
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None


READ = {
    "own counsellor": 200, "colleague counsellor": 200, "other association's counsellor": 404,
    "own supervisor": 200, "other association's supervisor": 404,
    "lending bank": 200, "other bank": 404, "ops": 403,
}
BANK_ONLY = {
    "own counsellor": 403, "colleague counsellor": 403, "other association's counsellor": 403,
    "own supervisor": 403, "other association's supervisor": 403,
    "lending bank": 200, "other bank": 404, "ops": 403,
}
ALERT = {
    "own counsellor": 200, "colleague counsellor": 404, "other association's counsellor": 404,
    "own supervisor": 200, "other association's supervisor": 404,
    "lending bank": 403, "other bank": 403, "ops": 403,
}

ENDPOINTS = [
    Endpoint("servicing", "GET", "/loans/{loan}", READ),
    Endpoint("servicing", "POST", "/loans/{pending_loan}/disbursement", BANK_ONLY,
             body={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}),
    Endpoint("servicing", "POST", "/loans/{loan}/payments", {**BANK_ONLY, "lending bank": 201},
             body={"bank_reference": "PRLV-2026-0001", "amount_cents": 8_791, "received_on": TODAY.isoformat()}),
    Endpoint("notifications", "GET", "/alerts/{alert}", ALERT),
]


async def _prepare(service: RunningService) -> dict[str, str]:
    """An active loan, a loan awaiting disbursement, and an alert for c-lefebvre."""
    if service.name == "servicing":
        active, pending = loan_approved(), loan_approved()
        for event in (active, pending):
            await service.deliver(event)
        ids = {"loan": str(loan_id_for(active.data.application_id)), "pending_loan": str(loan_id_for(pending.data.application_id))}
        disbursed = await service.http.post(
            f"/loans/{ids['loan']}/disbursement",
            json={"disbursed_on": TODAY.isoformat(), "payee": "borrower"},
            headers=bearer(tokens.bank("credit-mutuel-nord")),
        )
        assert disbursed.status_code == 200, disbursed.text
        return ids
    await service.deliver(payment_missed())
    alerts = await service.http.get("/alerts", headers=bearer(tokens.counsellor()))
    return {"alert": alerts.json()[0]["id"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_each_role_sees_only_what_is_its_own(endpoint: Endpoint, caller: str, start_service: ServiceStarter) -> None:
    service = await start_service(endpoint.service)
    path = endpoint.path.format(**await _prepare(service))

    response = await service.http.request(
        endpoint.method, path, json=endpoint.body, params=endpoint.query, headers=bearer(CALLERS[caller])
    )

    assert response.status_code == endpoint.expected[caller], response.text
    if response.status_code == 404:
        # Another's object is answered exactly as an unknown one: its existence is not disclosed.
        assert response.json()["title"].endswith("not found")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt", "Basic YWRtaW46YWRtaW4="])
async def test_no_valid_token_answers_401_naming_the_header(
    endpoint: Endpoint, authorization: str | None, start_service: ServiceStarter
) -> None:
    service = await start_service(endpoint.service)
    path = endpoint.path.format(**await _prepare(service))
    headers = {"Authorization": authorization} if authorization else {}

    response = await service.http.request(endpoint.method, path, json=endpoint.body, headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "Authorization"


async def test_lists_show_only_what_the_caller_may_see(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    approval = loan_approved()
    await servicing.deliver(approval)
    query = {"application_id": str(approval.data.application_id)}

    mine = await servicing.http.get("/loans", params=query, headers=bearer(tokens.counsellor()))
    theirs = await servicing.http.get("/loans", params=query, headers=bearer(tokens.counsellor(association="restos-du-coeur")))
    other_bank = await servicing.http.get("/loans", params=query, headers=bearer(tokens.bank("la-banque-postale")))

    assert [loan["application_id"] for loan in mine.json()] == [str(approval.data.application_id)]
    assert theirs.json() == [] and other_bank.json() == []


async def test_an_expired_token_is_refused(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    stale = issue_token(tokens.counsellor(), tokens.TEST_JWT_SECRET, now=datetime.now(UTC) - timedelta(hours=9))

    response = await servicing.http.get("/loans", params={"application_id": str(uuid4())}, headers={"Authorization": f"Bearer {stale}"})

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
