"""Drive one application through the whole flow over HTTP, as the demo, the e2e tests and the benchmark do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class JourneyError(RuntimeError):
    """A step of the journey did not happen in time or answered an error."""


@dataclass
class Journey:
    """What one walk through the flow produced."""

    application_id: str
    loan_id: str = ""
    alert_id: str = ""
    steps: dict[str, float] = field(default_factory=dict)  # step name -> seconds since submission

    @property
    def latency(self) -> float:
        """Seconds from the HTTP submission to the counsellor's alert."""
        return self.steps["alert raised"]


def sample_application(n: int = 0, *, association: str = "secours-catholique", counsellor: str = "c-lefebvre") -> dict[str, Any]:
    """A realistic application: a 3,000 € car to get to work, 36 months."""
    names = ("Nadia Benali", "Julien Moreau", "Fatou Diallo", "Kevin Martin", "Sandrine Petit")
    return {
        "association_id": association,
        "region": "hauts-de-france",
        "counsellor_id": counsellor,
        "applicant_name": names[n % len(names)],
        "purpose": "vehicle",
        "amount_cents": 300_000,
        "duration_months": 36,
        "monthly_resources_cents": 135_000,
        "monthly_charges_cents": 82_000,
    }


async def _poll(what: str, probe: Callable[[], Awaitable[T | None]], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise JourneyError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _check(response: httpx.Response, step: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise JourneyError(f"{step}: HTTP {response.status_code} {response.text}")
    return response.json()


async def walk(
    client: httpx.AsyncClient,
    urls: Mapping[str, str],
    *,
    today: date,
    application: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Journey:
    """Submit, assess, approve, disburse, miss the first instalment and wait for the counsellor's alert."""
    h = dict(headers or {})
    started = time.monotonic()
    app = application or sample_application()
    submitted = _check(await client.post(f"{urls['intake']}/applications", json=app, headers=h), "submit")
    journey = Journey(application_id=submitted["id"])

    def mark(step: str) -> None:
        journey.steps[step] = time.monotonic() - started

    mark("application submitted")
    app_id = journey.application_id

    async def assessment_ready() -> dict[str, Any] | None:
        r = await client.get(f"{urls['assessment']}/assessments/{app_id}", headers=h)
        return r.json() if r.status_code == 200 else None

    await _poll("the assessment queue to receive the file", assessment_ready, timeout)
    mark("assessment opened")
    outcome = {
        "outcome": "favourable",
        "opinion": "Projet d'insertion solide : le véhicule permet de tenir le CDI à 25 km.",
        "bank_id": "banque-postale",
        "amount_cents": app["amount_cents"],
        "duration_months": app["duration_months"],
        "annual_rate": "0.035",
    }
    _check(await client.post(f"{urls['assessment']}/assessments/{app_id}/outcome", json=outcome, headers=h), "outcome")
    mark("application assessed")
    first_due = today + timedelta(days=30)
    decision = {
        "decision": "approve",
        "bank_id": "banque-postale",
        "amount_cents": app["amount_cents"],
        "annual_rate": "0.035",
        "duration_months": app["duration_months"],
        "first_due_date": first_due.isoformat(),
    }
    _check(await client.post(f"{urls['assessment']}/assessments/{app_id}/bank-decision", json=decision, headers=h), "bank decision")
    mark("loan approved")

    async def loan_created() -> dict[str, Any] | None:
        r = await client.get(f"{urls['servicing']}/loans", params={"application_id": app_id}, headers=h)
        return r.json()[0] if r.status_code == 200 and r.json() else None

    loan = await _poll("servicing to open the loan", loan_created, timeout)
    journey.loan_id = loan["id"]
    mark("loan opened")
    disbursement = {"disbursed_on": today.isoformat(), "payee": "Garage Dupont SARL"}
    _check(await client.post(f"{urls['servicing']}/loans/{journey.loan_id}/disbursement", json=disbursement, headers=h), "disburse")
    mark("loan disbursed")
    cob = {"business_date": first_due.isoformat()}
    _check(await client.post(f"{urls['servicing']}/close-of-business", json=cob, headers=h), "close of business")
    mark("close of business")

    async def alert_raised() -> dict[str, Any] | None:
        r = await client.get(
            f"{urls['notifications']}/alerts",
            params={"counsellor_id": app["counsellor_id"], "loan_id": journey.loan_id},
            headers=h,
        )
        return r.json()[0] if r.status_code == 200 and r.json() else None

    alert = await _poll("the counsellor's alert", alert_raised, timeout)
    journey.alert_id = alert["id"]
    mark("alert raised")
    return journey
