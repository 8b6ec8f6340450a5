"""Drive one application through the whole flow over HTTP, as the demo, the e2e tests and the benchmark do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar

from shared.auth import Principal, Role
from shared.events import LoanDisbursed, PaymentMissed

T = TypeVar("T")


class Answer(Protocol):
    """What the journey reads of an HTTP answer (httpx's `Response` is one)."""

    status_code: int

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class Client(Protocol):
    """What the journey asks of an HTTP client (httpx's `AsyncClient` is one; the flow benchmark passes a lighter one)."""

    async def get(self, url: str, *, params: Mapping[str, str] | None = ..., headers: Mapping[str, str] | None = ...) -> Answer:
        ...

    async def post(self, url: str, *, json: Any = ..., headers: Mapping[str, str] | None = ...) -> Answer: ...


class JourneyError(RuntimeError):
    """A step of the journey did not happen in time or answered an error."""


class Identity(Protocol):
    """Where access tokens come from: the local Keycloak (deploy/local/identity.py), or a test issuer."""

    async def headers(self, principal: Principal) -> dict[str, str]:
        """The `Authorization` header of `principal`."""
        ...


@dataclass(frozen=True)
class Credentials:
    """Who acts in the journey — a counsellor of an association, its partner bank's systems, ops — signed in."""

    counsellor_headers: Mapping[str, str]
    bank_headers: Mapping[str, str]
    ops_headers: Mapping[str, str]
    association: str = "secours-catholique"
    region: str = "hauts-de-france"
    counsellor: str = "c-lefebvre"
    bank: str = "credit-mutuel-nord"

    @classmethod
    async def sign_in(
        cls,
        identity: Identity,
        *,
        association: str = "secours-catholique",
        region: str = "hauts-de-france",
        counsellor: str = "c-lefebvre",
        bank: str = "credit-mutuel-nord",
        ops: str = "ops-durand",
    ) -> Credentials:
        """Sign the three of them in with `identity`."""
        person = Principal(subject=counsellor, role=Role.COUNSELLOR, association_id=association, region=region)
        systems = Principal(subject=f"service-account-bank-{bank}", role=Role.BANK, bank_id=bank)
        return cls(
            counsellor_headers=await identity.headers(person),
            bank_headers=await identity.headers(systems),
            ops_headers=await identity.headers(Principal(subject=ops, role=Role.OPS)),
            association=association, region=region, counsellor=counsellor, bank=bank,
        )

    def as_counsellor(self) -> dict[str, str]:
        """Bearer header of the counsellor who follows the file."""
        return dict(self.counsellor_headers)

    def as_bank(self) -> dict[str, str]:
        """Bearer header of the partner bank's systems."""
        return dict(self.bank_headers)

    def as_ops(self) -> dict[str, str]:
        """Bearer header of the ops team (close of business)."""
        return dict(self.ops_headers)


@dataclass
class Journey:
    """What one walk through the flow produced."""

    application_id: str
    loan_id: str = ""
    alert_id: str = ""
    steps: dict[str, float] = field(default_factory=dict)  # step name -> seconds since submission
    calls: dict[str, float] = field(default_factory=dict)  # HTTP command -> seconds it took to answer

    @property
    def latency(self) -> float:
        """Seconds from the HTTP submission to the counsellor's alert."""
        return self.steps["alert raised"]


FIRST_NAMES = ("Nadia", "Julien", "Fatou", "Kevin", "Sandrine", "Mehdi", "Laetitia", "Grégory")
LAST_NAMES = ("Benali", "Moreau", "Diallo", "Martin", "Petit", "Haddad", "Lefort", "Dumont")
VEHICLE_DOCUMENTS = (
    "identity", "tax_notice", "proof_of_address", "bank_statements", "proof_of_resources", "proof_of_charges",
    "quote", "driving_licence", "insurance_quote",
)


def sample_application(n: int = 0) -> dict[str, Any]:
    """A realistic complete file: 3,000 € over 36 months for a used car to get to work; every document verified."""
    return {
        "applicant": {
            "first_name": FIRST_NAMES[n % len(FIRST_NAMES)],
            "last_name": LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)],
            "birth_date": "1988-06-14",
            "contact": {"phone": "06 12 34 56 78", "email": "contact@example.fr"},
            "address": {"street": "12 rue Émile Zola", "postcode": "62300", "city": "Lens"},
            "over_indebted": False,
        },
        "household": {"adults": 1, "children_ages": []},
        "resources": {"salary": 125_000, "family_allowances": 10_000},
        "charges": {"rent": 52_000, "energy": 9_500, "insurance": 6_500, "telephone": 3_000, "transport": 11_000},
        "project": {
            "purpose": "vehicle",
            "description": "Clio d'occasion pour rejoindre un CDI à 25 km, horaires de nuit",
            "supplier": "Garage Dupont, Lens",
            "quote_cents": 420_000,
        },
        "amount_cents": 300_000,
        "duration_months": 36,
        "referral_source": "ccas",
        "branch_id": "lens-centre",
        "documents": {kind: {"status": "verified"} for kind in VEHICLE_DOCUMENTS},
    }


# Each read of an effect asks the service to answer as soon as the effect is there (RFC 7240, `shared/arrivals.py`),
# so a journey reads each effect about once instead of polling it; shorter than any client's read timeout.
WAIT = {"Prefer": "wait=2"}


async def _poll(what: str, probe: Callable[[], Awaitable[T | None]], timeout: float) -> T:
    """What `probe` finds, asked again until `timeout` (each ask waits on the service's side, `WAIT`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise JourneyError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)  # a service that did not wait (an older one) is not asked in a tight loop


def _check(response: Answer, step: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise JourneyError(f"{step}: HTTP {response.status_code} {response.text}")
    return response.json()


async def submit_file(
    client: Client,
    urls: Mapping[str, str],
    *,
    credentials: Credentials,
    application: dict[str, Any],
    headers: Mapping[str, str] | None = None,
    calls: dict[str, float] | None = None,
) -> str:
    """The counsellor opens the file and submits it; its id."""
    counsellor = {**(headers or {}), **credentials.as_counsellor()}
    timed = {} if calls is None else calls

    async def command(step: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        sent = time.monotonic()
        response = await client.post(url, json=body, headers=counsellor)
        timed[step] = time.monotonic() - sent
        return _check(response, step)

    draft = await command("open the file", f"{urls['intake']}/applications", application)
    await command("submit", f"{urls['intake']}/applications/{draft['id']}/submission", {})
    return str(draft["id"])


async def walk(
    client: Client,
    urls: Mapping[str, str],
    *,
    today: date,
    credentials: Credentials,
    application: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    close_of_business: bool = True,
    submitted: str | None = None,
) -> Journey:
    """Build and submit a file, record the FICP and a favourable review, have the bank approve, disburse,
    miss the first instalment at the close of business, and wait for the counsellor's alert.

    Without `close_of_business`, the journey ends at the counsellor's alert of the disbursement (a
    benchmark runs one close of business for all its journeys instead of one each). With `submitted` (the id
    `submit_file` gave), the journey goes on from the file's submission.
    """
    trace = dict(headers or {})
    counsellor = {**trace, **credentials.as_counsellor()}
    bank = {**trace, **credentials.as_bank()}
    ops = {**trace, **credentials.as_ops()}
    calls: dict[str, float] = {}

    async def command(step: str, url: str, body: dict[str, Any], who: Mapping[str, str]) -> dict[str, Any]:
        sent = time.monotonic()
        response = await client.post(url, json=body, headers=who)
        calls[step] = time.monotonic() - sent
        return _check(response, step)

    started = time.monotonic()
    app = application or sample_application()
    if submitted is None:
        submitted = await submit_file(client, urls, credentials=credentials, application=app, headers=trace, calls=calls)
    journey = Journey(application_id=submitted, calls=calls)
    app_id = journey.application_id

    def mark(step: str) -> None:
        journey.steps[step] = time.monotonic() - started

    mark("application submitted")

    async def assessment_ready() -> dict[str, Any] | None:
        r = await client.get(f"{urls['assessment']}/assessments/{app_id}", headers={**counsellor, **WAIT})
        return r.json() if r.status_code == 200 else None

    await _poll("the assessment queue to receive the file", assessment_ready, timeout)
    mark("assessment opened")
    ficp = {"consulted_on": today.isoformat(), "result": "not_registered", "reference": f"FICP-{today:%Y%m%d}-{app_id[:8]}"}
    await command("FICP", f"{urls['assessment']}/assessments/{app_id}/ficp", ficp, counsellor)
    outcome = {
        "outcome": "favourable",
        "opinion": "Projet d'insertion solide : le véhicule permet de tenir le CDI à 25 km.",
        "bank_id": credentials.bank,
        "amount_cents": app["amount_cents"],
        "duration_months": app["duration_months"],
        "annual_rate": "0.035",
    }
    await command("outcome", f"{urls['assessment']}/assessments/{app_id}/outcome", outcome, counsellor)
    mark("routed to the bank")
    first_due = today + timedelta(days=30)
    decision = {
        "decision": "approve",
        "amount_cents": app["amount_cents"],
        "annual_rate": "0.035",
        "duration_months": app["duration_months"],
        "first_due_date": first_due.isoformat(),
    }
    await command("bank decision", f"{urls['assessment']}/bank/files/{app_id}/decision", decision, bank)
    mark("loan approved")

    async def loan_created() -> dict[str, Any] | None:
        r = await client.get(f"{urls['servicing']}/loans", params={"application_id": app_id}, headers={**counsellor, **WAIT})
        return r.json()[0] if r.status_code == 200 and r.json() else None

    loan = await _poll("servicing to open the loan", loan_created, timeout)
    journey.loan_id = loan["id"]
    mark("loan opened")
    disbursement = {"disbursed_on": today.isoformat(), "payee": "Garage Dupont SARL"}
    await command("disburse", f"{urls['servicing']}/loans/{journey.loan_id}/disbursement", disbursement, bank)
    mark("loan disbursed")
    cause = LoanDisbursed
    if close_of_business:
        await command("close of business", f"{urls['servicing']}/close-of-business", {"business_date": first_due.isoformat()}, ops)
        mark("close of business")
        cause = PaymentMissed

    async def alert_raised() -> dict[str, Any] | None:
        r = await client.get(
            f"{urls['notifications']}/alerts",
            params={"loan_id": journey.loan_id, "cause_type": cause.event_type()},
            headers={**counsellor, **WAIT},
        )
        return r.json()[0] if r.status_code == 200 and r.json() else None

    alert = await _poll("the counsellor's alert", alert_raised, timeout)
    journey.alert_id = alert["id"]
    mark("alert raised")
    return journey
