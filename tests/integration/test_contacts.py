"""First contacts in process: a counsellor logs who called and what came of it; the list and the funnel read them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.conftest import NOW, RunningService, ServiceStarter
from tests.support import intake as files
from tests.support.tokens import bearer, counsellor, ops, supervisor

pytestmark = pytest.mark.integration

LENS = bearer(counsellor())  # c-lefebvre, Secours Catholique, Hauts-de-France
PARIS = bearer(counsellor(sub="c-nguyen", region="ile-de-france"))  # Secours Catholique, Île-de-France
RESTOS = bearer(counsellor(sub="c-petit", association="restos-du-coeur"))  # Restos du Cœur, Hauts-de-France

APPOINTMENT = {"referral_source": "social_worker", "outcome": "appointment", "appointment_on": "2026-03-09"}
ORIENTED = {"referral_source": "self", "outcome": "oriented", "oriented_to": "FSL du Pas-de-Calais"}
NOT_ELIGIBLE = {"referral_source": "banque_de_france", "outcome": "not_eligible", "reason": "over_indebted",
                "note": "Plan de surendettement en cours : revoir à son terme."}


async def log(service: RunningService, body: dict[str, Any], headers: dict[str, str] = LENS) -> dict[str, Any]:
    """Log a first contact and return it."""
    response = await service.http.post("/contacts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def problem_of(response: Any) -> list[tuple[str, str]]:
    """The (field, rule) pairs of a problem document."""
    assert response.headers["content-type"] == "application/problem+json"
    return [(e["field"], e["rule"]) for e in response.json()["errors"]]


async def test_a_first_contact_is_logged_in_the_callers_association_and_region_on_the_services_day(
    start_service: ServiceStarter,
) -> None:
    intake = await start_service("intake")

    contact = await log(intake, {**APPOINTMENT, "branch_id": "lens-centre"})

    assert {k: v for k, v in contact.items() if k != "id"} == {
        "association_id": "secours-catholique", "branch_id": "lens-centre", "region": "hauts-de-france",
        "referral_source": "social_worker", "outcome": "appointment", "appointment_on": "2026-03-09",
        "oriented_to": None, "reason": None, "note": None, "counsellor_id": "c-lefebvre",
        "created_at": NOW.isoformat().replace("+00:00", "Z"),
    }
    [row] = await intake.fetch("select association_id, region, outcome, created_at from contacts")
    assert (row["association_id"], row["region"], row["outcome"], row["created_at"]) == (
        "secours-catholique", "hauts-de-france", "appointment", NOW
    )
    assert await intake.fetch("select id from outbox") == []  # nothing leaves intake: it only feeds the funnel


async def test_the_list_shows_the_associations_contacts_newest_first_and_nobody_elses(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    first = await log(intake, APPOINTMENT)
    intake.clock.instant = NOW + timedelta(hours=1)
    second = await log(intake, ORIENTED, PARIS)  # a colleague of the same association, in another region
    intake.clock.instant = NOW + timedelta(hours=2)
    third = await log(intake, NOT_ELIGIBLE, bearer(supervisor()))
    restos = await log(intake, APPOINTMENT, RESTOS)

    listed = await intake.http.get("/contacts", headers=LENS)
    page = await intake.http.get("/contacts", params={"limit": 1, "offset": 1}, headers=LENS)
    theirs = await intake.http.get("/contacts", headers=RESTOS)

    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()] == [third["id"], second["id"], first["id"]]
    assert listed.headers["X-Total-Count"] == "3"
    assert ([c["id"] for c in page.json()], page.headers["X-Total-Count"]) == ([second["id"]], "3")
    assert ([c["id"] for c in theirs.json()], theirs.headers["X-Total-Count"]) == ([restos["id"]], "1")
    assert (third["outcome"], third["reason"], third["counsellor_id"]) == ("not_eligible", "over_indebted", "s-marchand")


async def test_a_person_not_eligible_without_a_reason_is_refused_naming_the_field_and_the_rule(
    start_service: ServiceStarter,
) -> None:
    intake = await start_service("intake")

    response = await intake.http.post(
        "/contacts", json={"referral_source": "ccas", "outcome": "not_eligible", "note": "Besoin couvert par la CAF."}, headers=LENS
    )

    assert response.status_code == 422, response.text
    assert problem_of(response) == [("reason", "required_for_outcome")]
    assert await intake.fetch("select id from contacts") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**APPOINTMENT, "reason": "other"}, "reason"),
        ({**ORIENTED, "appointment_on": "2026-03-09"}, "appointment_on"),
        ({**ORIENTED, "note": "Dossier FSL à déposer."}, "note"),
        ({**NOT_ELIGIBLE, "oriented_to": "Point conseil budget"}, "oriented_to"),
    ],
)
async def test_a_field_the_outcome_does_not_take_is_refused(body: dict[str, Any], field: str, start_service: ServiceStarter) -> None:
    intake = await start_service("intake")

    response = await intake.http.post("/contacts", json=body, headers=LENS)

    assert response.status_code == 422, response.text
    assert problem_of(response) == [(field, "not_for_outcome")]


async def test_no_name_is_taken_and_only_association_staff_log_contacts(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")

    named = await intake.http.post("/contacts", json={**APPOINTMENT, "applicant_name": "Nadia Benali"}, headers=LENS)
    by_ops = await intake.http.post("/contacts", json=APPOINTMENT, headers=bearer(ops()))
    read_by_ops = await intake.http.get("/contacts", headers=bearer(ops()))

    assert (named.status_code, problem_of(named)) == (422, [("applicant_name", "extra_forbidden")])
    assert (by_ops.status_code, problem_of(by_ops)) == (403, [("role", "forbidden_role")])
    assert (read_by_ops.status_code, problem_of(read_by_ops)) == (403, [("role", "forbidden_role")])


async def test_the_funnel_counts_first_contacts_per_association_and_region_on_the_day_they_were_logged(
    start_service: ServiceStarter,
) -> None:
    intake = await start_service("intake")
    # 1 March, the day before the period: not counted.
    intake.clock.instant = NOW - timedelta(days=1)
    await log(intake, APPOINTMENT)
    # 2 March: Lens logs three contacts and opens one file; Paris and the Restos du Cœur log contacts only.
    intake.clock.instant = NOW
    await log(intake, APPOINTMENT)
    await log(intake, {**APPOINTMENT, "appointment_on": None})
    await log(intake, NOT_ELIGIBLE)
    response = await intake.http.post("/applications", json=files.first_appointment(), headers=LENS)
    assert response.status_code == 201, response.text
    await log(intake, ORIENTED, PARIS)
    await log(intake, APPOINTMENT, RESTOS)
    # 3 March, after the period.
    intake.clock.instant = NOW + timedelta(days=1)
    await log(intake, ORIENTED)

    day = {"from": "2026-03-02", "to": "2026-03-02"}
    everyone = (await intake.http.get("/funnel", params=day, headers=bearer(ops()))).json()
    secours = (await intake.http.get("/funnel", params=day, headers=LENS)).json()

    counts = ("first_contacts", "appointments", "oriented", "not_eligible", "opened")
    rows = {(r["association_id"], r["region"]): tuple(r[c] for c in counts) for r in everyone["rows"]}
    assert rows == {
        ("restos-du-coeur", "hauts-de-france"): (1, 1, 0, 0, 0),
        ("secours-catholique", "hauts-de-france"): (3, 2, 0, 1, 1),
        ("secours-catholique", "ile-de-france"): (1, 0, 1, 0, 0),
    }
    assert tuple(everyone["total"][c] for c in counts) == (5, 3, 1, 1, 1)
    assert {(r["association_id"], r["region"]) for r in secours["rows"]} == {
        ("secours-catholique", "hauts-de-france"), ("secours-catholique", "ile-de-france")
    }
    march = (await intake.http.get("/funnel", params={"from": "2026-03-01", "to": "2026-03-31"}, headers=LENS)).json()
    assert (march["total"]["first_contacts"], march["total"]["appointments"], march["total"]["oriented"]) == (6, 3, 2)
