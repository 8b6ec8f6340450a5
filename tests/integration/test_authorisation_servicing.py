"""Who may see and act on loans and alerts: every endpoint taking an id × every role × own or another's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.servicing.domain import loan_id_for
from shared.auth import Principal
from tests.integration.conftest import (
    TODAY, PreparedService, RunningService, ServiceStarter, loan_approved, prepared_once, service_for_request,
)
from tests.support import notifications, tokens
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
ADVISER = {
    "own counsellor": 201, "colleague counsellor": 201, "other association's counsellor": 404,
    "own supervisor": 201, "other association's supervisor": 404,
    "lending bank": 403, "other bank": 403, "ops": 403,
}
ALERT = {
    "own counsellor": 200, "colleague counsellor": 404, "other association's counsellor": 404,
    "own supervisor": 200, "other association's supervisor": 404,
    "lending bank": 403, "other bank": 403, "ops": 403,
}
# The association's shared queue (no counsellor): every counsellor of the association sees it.
SHARED_ALERT = {**ALERT, "colleague counsellor": 200}
# Addressed to the association's supervisors: not to counsellors, not even the file's own.
SUPERVISOR_ALERT = {**ALERT, "own counsellor": 404}

ENDPOINTS = [
    Endpoint("servicing", "GET", "/loans/{loan}", READ),
    Endpoint("servicing", "POST", "/loans/{pending_loan}/disbursement", BANK_ONLY,
             body={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}),
    Endpoint("servicing", "POST", "/loans/{loan}/payments", {**BANK_ONLY, "lending bank": 201},
             body={"bank_reference": "PRLV-2026-0001", "amount_cents": 8_791, "received_on": TODAY.isoformat()}),
    Endpoint("servicing", "GET", "/loans/{loan}/payments", READ),
    Endpoint("servicing", "POST", "/loans/{loan}/payments/{payment}/reversal", BANK_ONLY,
             body={"reason": "Prélèvement rejeté (AM04 : provision insuffisante)"}),
    Endpoint("servicing", "GET", "/loans/{loan}/adjustments", READ),
    Endpoint("servicing", "POST", "/loans/{loan}/adjustments", ADVISER,
             body={"terms": {"kind": "extension", "months": 6}, "reason": "Passage à temps partiel subi."}),
    Endpoint("servicing", "POST", "/loans/{loan}/adjustment-preview", {**ADVISER, **{c: 200 for c, s in ADVISER.items() if s == 201}},
             body={"terms": {"kind": "extension", "months": 6}}),
    Endpoint("servicing", "POST", "/loans/{adjusted_loan}/adjustments/{adjustment}/answer", BANK_ONLY, body={"accept": True}),
    Endpoint("servicing", "GET", "/loans/{loan}/schedule-versions", READ),
    Endpoint("notifications", "GET", "/alerts/{alert}", ALERT),
    Endpoint("notifications", "POST", "/alerts/{alert}/acknowledgement", ALERT),
    Endpoint("notifications", "POST", "/alerts/{alert}/resolution", ALERT, body={"note": "Appelée : pause de deux mois demandée."}),
    Endpoint("notifications", "POST", "/alerts/{alert}/snooze", ALERT, body={"until": (TODAY + timedelta(days=3)).isoformat()}),
    Endpoint("notifications", "GET", "/alerts/{shared_alert}", SHARED_ALERT),
    Endpoint("notifications", "POST", "/alerts/{shared_alert}/acknowledgement", SHARED_ALERT),
    Endpoint("notifications", "GET", "/alerts/{supervisor_alert}", SUPERVISOR_ALERT),
    Endpoint("notifications", "POST", "/alerts/{supervisor_alert}/resolution", SUPERVISOR_ALERT, body={"note": "Vu avec Claire : plan d'action."}),
    Endpoint("notifications", "GET", "/webhooks/subscriptions/{subscription}", BANK_ONLY),
    Endpoint("notifications", "DELETE", "/webhooks/subscriptions/{subscription}", {**BANK_ONLY, "lending bank": 204}),
    Endpoint("notifications", "POST", "/webhooks/subscriptions/{subscription}/resumption", BANK_ONLY),
    Endpoint("notifications", "GET", "/webhooks/subscriptions/{subscription}/deliveries", BANK_ONLY),
    Endpoint("notifications", "GET", "/webhooks/deliveries/{delivery}", BANK_ONLY),
    Endpoint("notifications", "POST", "/webhooks/deliveries/{delivery}/resend", {**BANK_ONLY, "lending bank": 202}),
]


async def _prepare(service: RunningService) -> dict[str, str]:
    """An active loan with a payment, a loan awaiting disbursement, a loan with an open adjustment request, and an alert for c-lefebvre."""
    if service.name == "servicing":
        active, pending, adjusted = loan_approved(), loan_approved(), loan_approved()
        for event in (active, pending, adjusted):
            await service.deliver(event)
        ids = {
            "loan": str(loan_id_for(active.data.application_id)),
            "pending_loan": str(loan_id_for(pending.data.application_id)),
            "adjusted_loan": str(loan_id_for(adjusted.data.application_id)),
        }
        bank = bearer(tokens.bank("credit-mutuel-nord"))
        for loan in (ids["loan"], ids["adjusted_loan"]):
            disbursed = await service.http.post(
                f"/loans/{loan}/disbursement", json={"disbursed_on": TODAY.isoformat(), "payee": "borrower"}, headers=bank
            )
            assert disbursed.status_code == 200, disbursed.text
        paid = await service.http.post(
            f"/loans/{ids['loan']}/payments",
            json={"bank_reference": "PRLV-2026-0000", "amount_cents": 8_791, "received_on": TODAY.isoformat()},
            headers=bank,
        )
        assert paid.status_code == 201, paid.text
        asked = await service.http.post(
            f"/loans/{ids['adjusted_loan']}/adjustments",
            json={"terms": {"kind": "pause", "months": 2, "with_interest": False}, "reason": "Arrêt maladie."},
            headers=bearer(tokens.counsellor()),
        )
        assert asked.status_code == 201, asked.text
        return {**ids, "payment": paid.json()["id"], "adjustment": asked.json()["id"]}
    return await notifications.prepare(service)


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
    async with service_for_request(
        endpoint.method, endpoint.expected[caller], endpoint.service, prepared_service, postgres, _prepare
    ) as (service, ids):
        response = await service.http.request(
            endpoint.method, endpoint.path.format(**ids), json=endpoint.body, params=endpoint.query, headers=bearer(CALLERS[caller])
        )

    assert response.status_code == endpoint.expected[caller], response.text
    if response.status_code == 404:
        # Another's object is answered exactly as an unknown one: its existence is not disclosed.
        assert response.json()["title"].endswith("not found")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt", "Basic YWRtaW46YWRtaW4="])
async def test_no_valid_token_answers_401_naming_the_header(
    endpoint: Endpoint, authorization: str | None, prepared_service: PreparedService
) -> None:
    service, ids = await prepared_service(endpoint.service)
    path = endpoint.path.format(**ids)
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


async def test_without_an_application_each_caller_lists_the_loans_they_follow(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    hers = loan_approved()
    colleagues = loan_approved(counsellor_id="c-martin")
    elsewhere = loan_approved(association_id="restos-du-coeur", region="occitanie", counsellor_id="c-garcia", bank_id="la-banque-postale")
    for approval in (hers, colleagues, elsewhere):
        await servicing.deliver(approval)

    async def listed(principal: Principal) -> tuple[set[str], str]:
        answer = await servicing.http.get("/loans", headers=bearer(principal))
        assert answer.status_code == 200, answer.text
        return {loan["application_id"] for loan in answer.json()}, answer.headers["X-Total-Count"]

    ids = {name: str(a.data.application_id) for name, a in (("hers", hers), ("colleague", colleagues), ("elsewhere", elsewhere))}
    assert await listed(tokens.counsellor()) == ({ids["hers"]}, "1")
    assert await listed(tokens.supervisor()) == ({ids["hers"], ids["colleague"]}, "2")
    assert await listed(tokens.bank("credit-mutuel-nord")) == ({ids["hers"], ids["colleague"]}, "2")
    assert await listed(tokens.bank("la-banque-postale")) == ({ids["elsewhere"]}, "1")
    assert (await servicing.http.get("/loans", headers=bearer(tokens.ops()))).status_code == 403


async def test_an_expired_token_is_refused(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    # Nine hours before the service's clock: expired an hour plus the leeway ago, whatever the wall clock says.
    stale = tokens.access_token(tokens.counsellor(), now=servicing.clock.now() - timedelta(hours=9))

    response = await servicing.http.get("/loans", params={"application_id": str(uuid4())}, headers={"Authorization": f"Bearer {stale}"})

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_only_ops_run_the_notification_timers(start_service: ServiceStarter) -> None:
    service = await start_service("notifications")

    statuses = {
        caller: (await service.http.post("/operations/timers", json={"timers": ["escalations"]}, headers=bearer(p))).status_code
        for caller, p in CALLERS.items()
    }

    assert statuses == {caller: 200 if caller == "ops" else 403 for caller in CALLERS}


async def test_webhook_subscriptions_are_for_banks_and_each_lists_only_its_own(start_service: ServiceStarter) -> None:
    service = await start_service("notifications")
    await notifications.prepare(service)

    answers = {caller: await service.http.get("/webhooks/subscriptions", headers=bearer(p)) for caller, p in CALLERS.items()}

    assert {c: r.status_code for c, r in answers.items()} == {c: 200 if c in ("lending bank", "other bank") else 403 for c in CALLERS}
    assert len(answers["lending bank"].json()) == 1 and answers["other bank"].json() == []
