"""An assessment file on its way to a partner bank, and the bank's decision, for the assessment tests."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from shared.events import BankDecision, Envelope, new_event, parse_event
from shared.events import BankDecisionData, Household
from tests.integration.conftest import NOW, TODAY, RunningService, application_submitted
from tests.support import tokens
from tests.support.privacy import opened
from tests.support.tokens import bearer

COUNSELLOR = bearer(tokens.counsellor())
BANK = "credit-mutuel-nord"
FICP_CLEAR = {"consulted_on": TODAY.isoformat(), "result": "not_registered", "reference": "FICP-2026-03-02-0417"}
FAVOURABLE = {
    "outcome": "favourable",
    "opinion": "Projet cohérent : CDI d'aide-soignante à Lens, pas de transport en commun aux horaires de nuit.",
    "bank_id": BANK,
    "amount_cents": 300_000,
    "duration_months": 36,
    "annual_rate": "0.035",
}
APPROVAL = {"decision": "approve", "amount_cents": 300_000, "annual_rate": "0.035", "duration_months": 36,
            "first_due_date": date(2026, 4, 5).isoformat()}


def fatou_diallo(**data: Any) -> Any:
    """Fatou Diallo, single mother of two (6 and 15), asks 3,000 € over 36 months for a car."""
    return application_submitted(
        applicant_name="Fatou Diallo", birth_date=date(1987, 2, 11), household=Household(adults=1, children_ages=[6, 15]),
        resources={"salary": 1_380_00, "family_allowances": 151_05, "other": 120_00}, monthly_resources_cents=1_651_05,
        charges={"rent": 590_00, "energy": 110_00, "insurance": 45_00, "telephone": 40_00}, monthly_charges_cents=785_00,
        referral_source="ccas", **data,
    )


async def outbox(service: RunningService) -> list[Envelope[Any]]:
    """The events the service wrote to its outbox, in order, their personal fields opened with the test keyring."""
    return await opened(service.dsn, [parse_event(bytes(r["payload"])) for r in await service.fetch("select payload from outbox order by id")])


async def routed_file(service: RunningService, **data: Any) -> UUID:
    """A file submitted, its FICP consulted and routed to Crédit Mutuel Nord with a favourable opinion."""
    submitted = fatou_diallo(**data)
    await service.deliver(submitted)
    file = submitted.data.application_id
    assert (await service.http.post(f"/assessments/{file}/ficp", json=FICP_CLEAR, headers=COUNSELLOR)).status_code == 200
    routed = await service.http.post(f"/assessments/{file}/outcome", json=FAVOURABLE, headers=COUNSELLOR)
    assert routed.status_code == 200, routed.text
    return file


def bank_decision(file: UUID, bank_id: str = BANK, **data: Any) -> BankDecision:
    """A decision as a bank writes it to its reserved topic."""
    terms = {"decision": "approve", "amount_cents": 300_000, "annual_rate": "0.035", "duration_months": 36,
             "first_due_date": date(2026, 4, 5), **data}
    return new_event(BankDecision, source=f"/banks/{bank_id}", subject=str(file), time=NOW,
                     data=BankDecisionData(application_id=file, bank_id=bank_id, **terms))
