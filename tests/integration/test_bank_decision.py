"""The bank's decision is one command whichever channel carries it: the same answers over HTTP and on the bank's topic.

Over HTTP a refusal is a problem document (status, rule, message); on the topic it is a dead letter
with the reason. Taken or refused, each case must come out the same on both channels.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from tests.integration.conftest import RunningService, ServiceStarter, run_service
from tests.integration.test_dead_letters import eventually
from tests.support import tokens
from tests.support.assessment import APPROVAL, BANK, COUNSELLOR, FAVOURABLE, FICP_CLEAR, bank_decision, fatou_diallo, outbox, routed_file
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

CHANNELS = ["http", "kafka"]
DECLINE = {"decision": "decline", "reason": "Incident de paiement en cours sur un autre crédit."}
APPROVED = "fr.microcredit.loan.approved.v1"


async def decide(service: RunningService, channel: str, file: UUID, terms: dict[str, Any], bank_id: str = BANK) -> str | None:
    """Send the bank's decision on `channel`: None when it is taken, else why it is refused."""
    if channel == "http":
        response = await service.http.post(f"/bank/files/{file}/decision", json=terms, headers=bearer(tokens.bank(bank_id)))
        if response.status_code == 200:
            return None
        problem = response.json()
        errors = problem.get("errors") or [{"rule": "-", "message": problem["detail"]}]
        return f"{response.status_code} {errors[0]['rule']}: {errors[0]['message']}"
    before = len(service.dead_letters)
    topic_terms = {"amount_cents": None, "annual_rate": None, "duration_months": None, "first_due_date": None, **terms}
    await service.deliver(bank_decision(file, bank_id, **topic_terms))
    return service.dead_letters[-1].headers["dlq-reason"] if len(service.dead_letters) > before else None


async def file_as_counsellor_sees_it(service: RunningService, file: UUID) -> dict[str, Any]:
    """The file's assessment, as its counsellor reads it."""
    return (await service.http.get(f"/assessments/{file}", headers=COUNSELLOR)).json()


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_same_decision_sent_again_changes_nothing(channel: str, start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)
    assert await decide(assessment, channel, file, APPROVAL) is None
    decided = await file_as_counsellor_sees_it(assessment, file)
    assessment.clock.advance(timedelta(hours=2))

    again = await decide(assessment, channel, file, APPROVAL)

    assert again is None  # taken as already applied: 200 with the file as it is, or no dead letter
    assert await file_as_counsellor_sees_it(assessment, file) == decided
    assert [e.type for e in await outbox(assessment)].count(APPROVED) == 1
    trail = (await assessment.http.get(f"/assessments/{file}/audit", headers=COUNSELLOR)).json()
    assert [e["action"] for e in trail].count("loan_approved") == 1
    assert trail[-1]["details"]["channel"] == channel
    assert assessment.dead_letters == []


async def test_over_http_the_same_decision_again_answers_the_file_as_it_is(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)
    cmn = bearer(tokens.bank(BANK))

    first = await assessment.http.post(f"/bank/files/{file}/decision", json=APPROVAL, headers=cmn)
    again = await assessment.http.post(f"/bank/files/{file}/decision", json=APPROVAL, headers=cmn)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.json()["decision"]["decision"] == "approve"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_another_decision_after_the_bank_decided_is_refused(channel: str, start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)
    assert await decide(assessment, channel, file, APPROVAL) is None

    refused = await decide(assessment, channel, file, DECLINE)

    assert refused is not None and "the bank already decided on this file (approve)" in refused
    if channel == "http":
        assert refused.startswith("409 already_decided")
    assert (await file_as_counsellor_sees_it(assessment, file))["status"] == "approved"
    assert [e.type for e in await outbox(assessment)].count("fr.microcredit.loan.declined.v1") == 0


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_decision_from_a_bank_the_file_is_not_routed_to_is_refused_as_not_found(
    channel: str, start_service: ServiceStarter
) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)

    refused = await decide(assessment, channel, file, APPROVAL, bank_id="la-banque-postale")

    assert refused is not None
    assert refused.startswith("404") if channel == "http" else "no file routed to la-banque-postale" in refused
    assert (await file_as_counsellor_sees_it(assessment, file))["status"] == "routed"
    assert [e.type for e in await outbox(assessment)][-1] == "fr.microcredit.application.routed.v1"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        ({**APPROVAL, "amount_cents": 800_000, "annual_rate": "0.2"}, "the approved terms are usurious"),
        ({**APPROVAL, "first_due_date": "2026-03-02"}, "the first due date must be in the future"),
        ({k: v for k, v in APPROVAL.items() if k != "first_due_date"}, "first_due_date is required to approve"),
        ({"decision": "decline"}, "reason is required to decline"),
    ],
    ids=["usurious", "first due date today", "no first due date", "decline without a reason"],
)
async def test_terms_the_rules_refuse_are_refused_with_the_reason(
    channel: str, terms: dict[str, Any], reason: str, start_service: ServiceStarter
) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)

    refused = await decide(assessment, channel, file, terms)

    assert refused is not None and reason in refused
    if channel == "http":
        assert refused.startswith("422")
    assert (await file_as_counsellor_sees_it(assessment, file))["status"] == "routed"


async def test_a_decision_on_the_topic_before_the_routing_waits_for_it_then_applies(database: str) -> None:
    async with run_service("assessment", database, consumer_park_retry_seconds=0.1) as assessment:
        submitted = fatou_diallo()
        await assessment.deliver(submitted)
        file = submitted.data.application_id
        assert (await assessment.http.post(f"/assessments/{file}/ficp", json=FICP_CLEAR, headers=COUNSELLOR)).status_code == 200

        await assessment.deliver(bank_decision(file))  # the bank answered before the counsellor routed the file

        assert assessment.dead_letters == []
        [parked] = await assessment.fetch("select reason from parked_events where consumer = 'assessment-bank-decisions'")
        assert parked["reason"] == f"application_id: no file routed to {BANK} with this id yet"
        routed = await assessment.http.post(f"/assessments/{file}/outcome", json=FAVOURABLE, headers=COUNSELLOR)
        assert routed.status_code == 200, routed.text

        async def approved() -> bool:
            return (await file_as_counsellor_sees_it(assessment, file))["status"] == "approved"

        await eventually(approved, "the parked decision to be applied once the file is routed")
        assert await assessment.fetch("select 1 from parked_events") == []
        assert [e.type for e in await outbox(assessment)].count(APPROVED) == 1
