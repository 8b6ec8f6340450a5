"""Servicing end to end in one process: payments over HTTP and Kafka, reversals, early repayment, adjustments and their preview.

Nadia Benali's loan: 3,000 € at 3.5 % over 36 months from 5 April 2026, 87.91 € a month, disbursed on
2 March 2026 by Crédit Mutuel Nord to the Garage Dupont.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from services.servicing import repository
from services.servicing.domain import loan_id_for
from services.servicing.domain.loans import Disbursement, disburse
from shared.events import BankPayment, new_event, parse_event
from shared.events import BankPaymentData
from shared.events.envelope import Envelope
from shared.loanmath import taeg_of_loan
from shared.money import canonical_decimal
from tests.integration.conftest import NOW, TODAY, RunningService, ServiceStarter, loan_approved
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

BANK = bearer(tokens.bank("credit-mutuel-nord"))
COUNSELLOR = bearer(tokens.counsellor())
INSTALMENT = 8_791


async def active_loan(servicing: RunningService, **terms: Any) -> str:
    """Nadia's loan, approved and disbursed today; its id."""
    approval = loan_approved(**terms)
    await servicing.deliver(approval)
    loan_id = str(loan_id_for(approval.data.application_id))
    disbursed = await servicing.http.post(
        f"/loans/{loan_id}/disbursement", json={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}, headers=BANK
    )
    assert disbursed.status_code == 200, disbursed.text
    return loan_id


async def loan(servicing: RunningService, loan_id: str) -> dict[str, Any]:
    response = await servicing.http.get(f"/loans/{loan_id}", headers=COUNSELLOR)
    assert response.status_code == 200, response.text
    return response.json()


async def events(servicing: RunningService, event_type: str) -> list[Envelope[Any]]:
    """The events of one type the service wrote to its outbox, in order."""
    rows = await servicing.fetch("select payload from outbox where event_type = $1 order by id", event_type)
    return [parse_event(bytes(r["payload"])) for r in rows]


def bank_payment(loan_id: str, reference: str, amount: int = INSTALMENT, **data: Any) -> BankPayment:
    """What the bank writes to its payments topic."""
    facts = {"bank_id": "credit-mutuel-nord", "kind": "payment", "received_on": TODAY, **data}
    return new_event(
        BankPayment, source="/banks/credit-mutuel-nord", subject=loan_id, time=NOW,
        data=BankPaymentData(loan_id=loan_id, bank_reference=reference, amount_cents=amount, **facts),
    )


async def test_a_disbursement_decided_on_a_loan_that_changed_meanwhile_writes_nothing(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    approval = loan_approved()
    await servicing.deliver(approval)
    loan_id = loan_id_for(approval.data.application_id)
    ctx = servicing.app.state.ctx

    async with ctx.pool.acquire() as conn:
        found = await repository.get_loan_versioned(conn, loan_id)
        assert found is not None
        pending, version = found
        active, event = disburse(pending, Disbursement(disbursed_on=TODAY, payee="Garage Martin, Arras"), ctx.clock.now())
        landed = await servicing.http.post(  # the bank's first call lands between this one's read and its write
            f"/loans/{loan_id}/disbursement", json={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}, headers=BANK
        )
        assert landed.status_code == 200, landed.text
        written = await repository.store_disbursement(conn, active, (event,), version=version)

    assert not written
    assert (await loan(servicing, str(loan_id)))["payee"] == "Garage Dupont, Lens"
    assert len(await events(servicing, "fr.microcredit.loan.disbursed.v1")) == 1


async def test_the_loan_shows_its_schedule_its_taeg_and_what_closes_it_today(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)

    view = await loan(servicing, loan_id)

    assert (view["status"], view["schedule_version"], view["instalment_day"]) == ("active", 1, 5)
    assert Decimal(view["taeg"]) == taeg_of_loan(300_000, Decimal("0.035"), 36, TODAY, date(2026, 4, 5))
    # Rates read as everywhere else, without the database's padding (numeric(9, 6) holds 0.035000).
    assert (view["annual_rate"], view["guarantee_share"]) == ("0.035", "0.5")
    assert view["taeg"] == canonical_decimal(Decimal(view["taeg"]))
    assert (view["principal_outstanding_cents"], view["payoff_cents"], view["arrears_cents"]) == (300_000, 300_000, 0)
    first = view["schedule"][0]
    assert (first["interest_cents"], first["principal_cents"], first["amount_cents"]) == (875, 7_916, INSTALMENT)
    assert (first["interest_paid_cents"], first["principal_paid_cents"]) == (0, 0)


async def test_a_payment_over_http_is_recorded_once_per_bank_reference(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    servicing.clock.advance(timedelta(days=34))  # 5 April
    body = {"bank_reference": "PRLV-2026-04-05-88412", "amount_cents": INSTALMENT, "received_on": "2026-04-05"}

    first = await servicing.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)
    again = await servicing.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["duplicate"] is True
    assert (first.json()["interest_cents"], first.json()["principal_cents"], first.json()["overpaid_cents"]) == (875, 7_916, 0)
    assert len(await servicing.fetch("select id from payments")) == 1
    [received] = await events(servicing, "fr.microcredit.payment.received.v1")
    assert (received.data.interest_cents, received.data.principal_cents) == (875, 7_916)
    view = await loan(servicing, loan_id)
    assert view["principal_outstanding_cents"] == 300_000 - 7_916
    assert view["schedule"][0]["paid_cents"] == INSTALMENT


async def test_a_payment_through_kafka_is_recorded_once_per_bank_reference(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    payment = bank_payment(loan_id, "PRLV-2026-03-02-0001", 5_000)
    resent = payment.model_copy(update={"id": uuid4()})  # the bank's retry: a new event, the same reference

    await servicing.deliver(payment)
    await servicing.deliver(resent)

    rows = await servicing.fetch("select bank_reference, amount_cents, interest_cents, principal_cents from payments")
    assert [tuple(r) for r in rows] == [("PRLV-2026-03-02-0001", 5_000, 875, 4_125)]
    assert len(await events(servicing, "fr.microcredit.payment.received.v1")) == 1
    assert servicing.dead_letters == []


async def test_a_payment_recorded_over_http_is_not_recorded_again_when_the_feed_reports_it(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    body = {"bank_reference": "PRLV-2026-03-02-0009", "amount_cents": 5_000, "received_on": TODAY.isoformat()}
    assert (await servicing.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)).status_code == 201

    await servicing.deliver(bank_payment(loan_id, "PRLV-2026-03-02-0009", 5_000))

    assert servicing.dead_letters == []
    assert len(await servicing.fetch("select id from payments")) == 1
    assert len(await events(servicing, "fr.microcredit.payment.received.v1")) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    # (a payment for a loan servicing does not know yet waits parked: tests/integration/test_parked_events.py)
    [({"bank_id": "la-banque-postale"}, "no loan"),
     ({"kind": "reversal", "reversed_reference": "PRLV-INCONNU"}, "no payment with bank reference PRLV-INCONNU"),
     ({"kind": "reversal", "reversed_reference": None}, "must name the reference"),
     ({"received_on": TODAY + timedelta(days=1)}, "cannot be received in the future")],
    ids=["another bank's loan", "a reversal of an unknown payment", "a reversal naming no payment",
         "a payment received tomorrow"],
)
async def test_a_bank_payment_servicing_cannot_apply_goes_to_the_dead_letter_topic(
    change: dict[str, Any], reason: str, start_service: ServiceStarter
) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    payment = bank_payment(loan_id, "PRLV-2026-03-02-0002")
    payment = payment.model_copy(update={"data": payment.data.model_copy(update=change)})

    await servicing.deliver(payment)

    [dead] = servicing.dead_letters
    assert reason in dead.headers["dlq-reason"]
    assert await servicing.fetch("select id from payments") == []


async def test_a_reversal_through_kafka_reopens_what_the_payment_paid_once(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    await servicing.deliver(bank_payment(loan_id, "PRLV-2026-03-02-0003"))
    reversal = bank_payment(
        loan_id, "REJ-2026-03-02-0003", kind="reversal", reversed_reference="PRLV-2026-03-02-0003", reason="AM04 provision insuffisante"
    )

    await servicing.deliver(reversal)
    await servicing.deliver(reversal.model_copy(update={"id": uuid4()}))

    view = await loan(servicing, loan_id)
    assert view["principal_outstanding_cents"] == 300_000
    assert all(line["paid_cents"] == 0 for line in view["schedule"])
    [reversed_] = await events(servicing, "fr.microcredit.payment.reversed.v1")
    assert (reversed_.data.bank_reference, reversed_.data.reason) == ("PRLV-2026-03-02-0003", "AM04 provision insuffisante")
    assert servicing.dead_letters == []


async def april_paid_over_http(servicing: RunningService) -> tuple[str, str]:
    """Nadia's loan with April's instalment paid on 5 April: (loan id, payment id)."""
    loan_id = await active_loan(servicing)
    servicing.clock.advance(timedelta(days=34))
    body = {"bank_reference": "PRLV-2026-04-05-0004", "amount_cents": INSTALMENT, "received_on": "2026-04-05"}
    paid = await servicing.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)
    assert paid.status_code == 201, paid.text
    return loan_id, paid.json()["id"]


async def test_a_reversal_over_http_reopens_the_instalment_once_however_often_it_is_asked(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id, payment_id = await april_paid_over_http(servicing)
    url = f"/loans/{loan_id}/payments/{payment_id}/reversal"

    reversed_ = await servicing.http.post(url, json={"reason": "Prélèvement rejeté : compte clôturé"}, headers=BANK)
    twice = await servicing.http.post(url, json={"reason": "Prélèvement rejeté : compte clôturé"}, headers=BANK)

    assert reversed_.status_code == 200 and reversed_.json()["reversed_at"] is not None
    assert reversed_.json()["duplicate"] is False
    assert twice.status_code == 200 and twice.json()["duplicate"] is True
    assert twice.json()["reversed_at"] == reversed_.json()["reversed_at"]
    view = await loan(servicing, loan_id)
    assert (view["schedule"][0]["paid_cents"], view["principal_outstanding_cents"], view["payoff_cents"]) == (0, 300_000, 300_875)
    assert len(await events(servicing, "fr.microcredit.payment.reversed.v1")) == 1


async def test_a_reversal_already_made_over_http_changes_nothing_when_the_feed_reports_it(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id, payment_id = await april_paid_over_http(servicing)
    url = f"/loans/{loan_id}/payments/{payment_id}/reversal"
    assert (await servicing.http.post(url, json={"reason": "Prélèvement rejeté"}, headers=BANK)).status_code == 200

    await servicing.deliver(bank_payment(
        loan_id, "REJ-2026-04-09-0004", kind="reversal", reversed_reference="PRLV-2026-04-05-0004", received_on=TODAY
    ))

    assert servicing.dead_letters == []
    assert len(await events(servicing, "fr.microcredit.payment.reversed.v1")) == 1
    [row] = await servicing.fetch("select reversal_reason from payments")
    assert row["reversal_reason"] == "Prélèvement rejeté"


async def test_a_reversal_of_another_amount_than_the_payment_is_refused_on_both_channels(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id, payment_id = await april_paid_over_http(servicing)

    over_http = await servicing.http.post(
        f"/loans/{loan_id}/payments/{payment_id}/reversal", json={"reason": "Rejet", "amount_cents": 5_000}, headers=BANK
    )
    await servicing.deliver(bank_payment(
        loan_id, "REJ-2026-04-09-0004", 5_000, kind="reversal", reversed_reference="PRLV-2026-04-05-0004", received_on=TODAY
    ))

    assert over_http.status_code == 422
    assert [(e["field"], e["rule"]) for e in over_http.json()["errors"]] == [("amount_cents", "not_the_payment_amount")]
    [dead] = servicing.dead_letters
    assert "the reversal is of 5000 cents, the payment of 8791" in dead.headers["dlq-reason"]
    assert await events(servicing, "fr.microcredit.payment.reversed.v1") == []
    assert (await loan(servicing, loan_id))["schedule"][0]["paid_cents"] == INSTALMENT


async def test_an_early_repayment_closes_the_loan_keeps_the_excess_to_refund_and_a_reversal_reopens_it(
    start_service: ServiceStarter,
) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    before = await loan(servicing, loan_id)
    body = {"bank_reference": "VIR-2026-03-02-SOLDE", "amount_cents": 301_000, "received_on": TODAY.isoformat()}

    paid = await servicing.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)

    assert paid.status_code == 201
    assert (paid.json()["principal_cents"], paid.json()["interest_cents"], paid.json()["overpaid_cents"]) == (300_000, 0, 1_000)
    view = await loan(servicing, loan_id)
    assert (view["status"], view["closed_on"], view["principal_outstanding_cents"]) == ("closed", TODAY.isoformat(), 0)
    [closed] = await events(servicing, "fr.microcredit.loan.closed.v1")
    assert closed.data.reason == "early_repayment"
    [received] = await events(servicing, "fr.microcredit.payment.received.v1")
    assert received.data.overpaid_cents == 1_000

    reopened = await servicing.http.post(
        f"/loans/{loan_id}/payments/{paid.json()['id']}/reversal", json={"reason": "Virement rappelé par l'émetteur"}, headers=BANK
    )

    assert reopened.status_code == 200
    view = await loan(servicing, loan_id)
    assert (view["status"], view["closed_on"], view["principal_outstanding_cents"]) == ("active", None, 300_000)
    assert view["schedule"] == before["schedule"]  # the interest waived is owed again


async def test_a_loan_s_payments_come_in_pages_with_their_total(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    for n in range(3):
        body = {"bank_reference": f"VIR-2026-03-02-000{n}", "amount_cents": 1_000, "received_on": TODAY.isoformat()}
        assert (await servicing.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)).status_code == 201
    url = f"/loans/{loan_id}/payments"

    everything = await servicing.http.get(url, headers=COUNSELLOR)
    page = await servicing.http.get(url, params={"limit": 2, "offset": 1}, headers=COUNSELLOR)
    beyond = await servicing.http.get(url, params={"offset": 3}, headers=COUNSELLOR)

    assert len(everything.json()) == 3 and page.json() == everything.json()[1:] and beyond.json() == []
    assert {r.headers["X-Total-Count"] for r in (everything, page, beyond)} == {"3"}


async def months_later_with_may_missed(servicing: RunningService) -> str:
    """April paid, May not, on 10 May."""
    loan_id = await active_loan(servicing)
    servicing.clock.advance(timedelta(days=34))
    body = {"bank_reference": "PRLV-2026-04-05-0005", "amount_cents": INSTALMENT, "received_on": "2026-04-05"}
    assert (await servicing.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)).status_code == 201
    servicing.clock.advance(timedelta(days=35))
    return loan_id


async def test_an_adjustment_accepted_by_the_bank_makes_version_2_and_keeps_version_1(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await months_later_with_may_missed(servicing)
    request = {"terms": {"kind": "pause", "months": 2, "with_interest": True}, "reason": "Arrêt maladie de six semaines."}

    asked = await servicing.http.post(f"/loans/{loan_id}/adjustments", json=request, headers=COUNSELLOR)
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "requested"
    assert asked.json()["preview"]["next_due_date"] == "2026-08-05"  # June and July paused
    answered = await servicing.http.post(
        f"/loans/{loan_id}/adjustments/{asked.json()['id']}/answer", json={"accept": True}, headers=BANK
    )

    assert answered.status_code == 200, answered.text
    assert (answered.json()["status"], answered.json()["schedule_version"]) == ("accepted", 2)
    view = await loan(servicing, loan_id)
    assert view["schedule_version"] == 2
    assert view["principal_outstanding_cents"] == 300_000 - 7_916
    new_lines = [line for line in view["schedule"] if line["number"] > 36]
    assert new_lines[0]["due_date"] == "2026-08-05" and len(new_lines) == 34  # the months left; May rolled into them
    assert sum(line["principal_cents"] for line in new_lines) == 300_000 - 7_916
    versions = (await servicing.http.get(f"/loans/{loan_id}/schedule-versions", headers=BANK)).json()
    assert [(v["version"], v["current"], v["adjustment_id"]) for v in versions] == [
        (1, False, None), (2, True, asked.json()["id"])
    ]
    assert len(versions[0]["lines"]) == 36 and versions[0]["lines"][0]["paid_cents"] == INSTALMENT
    assert versions[0]["replaced_at"] == versions[1]["created_at"]
    pages = [await servicing.http.get(f"/loans/{loan_id}/schedule-versions", params={"limit": 1, "offset": n}, headers=BANK)
             for n in (0, 1, 2)]
    assert [page.json() for page in pages] == [[versions[0]], [versions[1]], []]
    assert {page.headers["X-Total-Count"] for page in pages} == {"2"}
    [requested] = await events(servicing, "fr.microcredit.loan.adjustment.requested.v1")
    [rescheduled] = await events(servicing, "fr.microcredit.loan.rescheduled.v1")
    assert requested.data.terms.kind == "pause" and requested.data.requested_by == "c-lefebvre"
    assert (rescheduled.data.schedule_version, rescheduled.data.remaining_instalments) == (2, 34)
    assert rescheduled.data.principal_outstanding_cents == 300_000 - 7_916


async def test_a_refused_adjustment_leaves_the_schedule_as_it_was(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await months_later_with_may_missed(servicing)
    before = await loan(servicing, loan_id)
    request = {"terms": {"kind": "lower_instalment", "instalment_cents": 6_000}, "reason": "Fin de CDD, reprise en intérim."}
    asked = await servicing.http.post(f"/loans/{loan_id}/adjustments", json=request, headers=bearer(tokens.supervisor()))

    refused = await servicing.http.post(
        f"/loans/{loan_id}/adjustments/{asked.json()['id']}/answer",
        json={"accept": False, "reason": "Reste à vivre insuffisant : orienter vers un Point conseil budget."}, headers=BANK,
    )

    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    after = await loan(servicing, loan_id)
    assert after["schedule"] == before["schedule"] and after["schedule_version"] == 1
    [refusal] = await events(servicing, "fr.microcredit.loan.adjustment.refused.v1")
    assert refusal.data.reason.startswith("Reste à vivre")
    listed = (await servicing.http.get(f"/loans/{loan_id}/adjustments", headers=COUNSELLOR)).json()
    assert [(a["kind"], a["status"], a["requested_by"]) for a in listed] == [("lower_instalment", "refused", "s-marchand")]


TERMS = [
    {"kind": "pause", "months": 2, "with_interest": True},
    {"kind": "extension", "months": 6},
    {"kind": "lower_instalment", "instalment_cents": 6_000},
]


async def outbox_and_adjustments(servicing: RunningService) -> tuple[list[Any], list[Any]]:
    """Every event the service wrote and every adjustment it recorded."""
    return (
        [dict(r) for r in await servicing.fetch("select * from outbox order by id")],
        [dict(r) for r in await servicing.fetch("select * from adjustments order by requested_at")],
    )


@pytest.mark.parametrize("terms", TERMS, ids=lambda t: t["kind"])
async def test_the_preview_is_the_schedule_the_bank_s_acceptance_then_makes(
    terms: dict[str, Any], start_service: ServiceStarter
) -> None:
    servicing = await start_service("servicing")
    loan_id = await months_later_with_may_missed(servicing)
    before = await outbox_and_adjustments(servicing)

    previewed = await servicing.http.post(f"/loans/{loan_id}/adjustment-preview", json={"terms": terms}, headers=COUNSELLOR)

    assert previewed.status_code == 200, previewed.text
    assert await outbox_and_adjustments(servicing) == before  # nothing recorded, nothing to publish
    assert (await servicing.http.get(f"/loans/{loan_id}/adjustments", headers=COUNSELLOR)).json() == []
    assert (await loan(servicing, loan_id))["schedule_version"] == 1
    request = {"terms": terms, "reason": "Arrêt maladie de six semaines."}
    asked = await servicing.http.post(f"/loans/{loan_id}/adjustments", json=request, headers=COUNSELLOR)
    assert asked.status_code == 201, asked.text
    accepted = await servicing.http.post(
        f"/loans/{loan_id}/adjustments/{asked.json()['id']}/answer", json={"accept": True}, headers=BANK
    )
    assert accepted.status_code == 200, accepted.text
    assert previewed.json()["preview"] == asked.json()["preview"]
    assert previewed.json()["lines"] == (await loan(servicing, loan_id))["schedule"]
    [rescheduled] = await events(servicing, "fr.microcredit.loan.rescheduled.v1")
    figures = previewed.json()["preview"]
    assert (rescheduled.data.instalment_cents, rescheduled.data.remaining_instalments, rescheduled.data.next_due_date.isoformat()) == (
        figures["instalment_cents"], figures["remaining_instalments"], figures["next_due_date"],
    )


async def test_a_pause_previewed_shows_the_paused_months_and_may_rolled_into_the_new_lines(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await months_later_with_may_missed(servicing)

    previewed = await servicing.http.post(
        f"/loans/{loan_id}/adjustment-preview", json={"terms": TERMS[0]}, headers=bearer(tokens.supervisor())
    )

    figures, lines = previewed.json()["preview"], previewed.json()["lines"]
    assert (figures["next_due_date"], figures["remaining_instalments"]) == ("2026-08-05", 34)  # June and July paused
    assert figures["principal_outstanding_cents"] == 300_000 - 7_916
    assert [line["number"] for line in lines[:2]] == [1, 37]  # April as paid, then the new lines numbered after the old
    assert lines[0]["paid_cents"] == INSTALMENT and len(lines) == 1 + 34
    assert sum(line["principal_cents"] for line in lines[1:]) == figures["principal_outstanding_cents"]


@pytest.mark.parametrize(
    ("terms", "field", "rule"),
    [
        ({"kind": "pause", "months": 2}, "terms.with_interest", "required_for_kind"),
        ({"kind": "extension", "months": 6, "instalment_cents": 6_000}, "terms.instalment_cents", "not_for_kind"),
        ({"kind": "pause", "months": 13, "with_interest": False}, "terms.months", "pause_too_long"),
        ({"kind": "lower_instalment", "instalment_cents": 500}, "terms.instalment_cents", "below_monthly_interest"),
        ({"kind": "lower_instalment", "instalment_cents": 10_000}, "terms.instalment_cents", "not_lower"),
        ({"kind": "extension", "months": "6"}, "terms.months", "int_type"),
    ],
)
async def test_terms_a_request_would_refuse_are_refused_by_the_preview_alike(
    terms: dict[str, Any], field: str, rule: str, start_service: ServiceStarter
) -> None:
    servicing = await start_service("servicing")
    loan_id = await months_later_with_may_missed(servicing)

    previewed = await servicing.http.post(f"/loans/{loan_id}/adjustment-preview", json={"terms": terms}, headers=COUNSELLOR)
    asked = await servicing.http.post(
        f"/loans/{loan_id}/adjustments", json={"terms": terms, "reason": "Fin de CDD."}, headers=COUNSELLOR
    )

    assert previewed.status_code == asked.status_code == 422, previewed.text
    assert [(e["field"], e["rule"]) for e in previewed.json()["errors"]] == [(field, rule)]
    assert previewed.json()["errors"] == asked.json()["errors"]


async def test_a_preview_takes_only_terms_and_shows_another_association_s_loan_to_no_one(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    loan_id = await active_loan(servicing)
    url = f"/loans/{loan_id}/adjustment-preview"

    with_reason = await servicing.http.post(url, json={"terms": TERMS[1], "reason": "Fin de CDD."}, headers=COUNSELLOR)
    theirs = await servicing.http.post(url, json={"terms": TERMS[1]}, headers=bearer(tokens.counsellor(sub="c-petit", association="restos-du-coeur")))
    unknown = await servicing.http.post(f"/loans/{uuid4()}/adjustment-preview", json={"terms": TERMS[1]}, headers=COUNSELLOR)

    assert with_reason.status_code == 422
    assert [(e["field"], e["rule"]) for e in with_reason.json()["errors"]] == [("reason", "extra_forbidden")]
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["title"] == unknown.json()["title"] == "loan not found"
    assert (await servicing.http.post(url, json={"terms": TERMS[1]}, headers=BANK)).status_code == 403


async def test_a_loan_not_yet_disbursed_has_no_adjustment_to_preview(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    approval = loan_approved()
    await servicing.deliver(approval)

    previewed = await servicing.http.post(
        f"/loans/{loan_id_for(approval.data.application_id)}/adjustment-preview", json={"terms": TERMS[1]}, headers=COUNSELLOR
    )

    assert previewed.status_code == 409
    assert [(e["field"], e["rule"]) for e in previewed.json()["errors"]] == [("terms", "state")]
