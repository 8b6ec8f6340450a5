"""Assessment in process: the review queue, routing to a bank, the bank's decision over HTTP, the timer, the usury table."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.assessment import usecases
from services.assessment.domain import decision as domain_decision
from services.assessment.domain.assessment import Assessment, Change
from services.assessment.domain.decision import BankDecisionTerms
from shared.auth import Actor
from shared.events import ApplicationUpdated, ApplicationWithdrawn, new_event
from shared.events import ApplicationUpdatedData, ApplicationWithdrawnData
from tests.integration.conftest import NOW, OWNERSHIP, TODAY, RunningService, ServiceStarter, application_submitted
from tests.support import tokens
from tests.support.assessment import APPROVAL, BANK, COUNSELLOR, FAVOURABLE, FICP_CLEAR, fatou_diallo, outbox, routed_file
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

SUPERVISOR = bearer(tokens.supervisor())
CMN = bearer(tokens.bank(BANK))
# What the social diagnostic is made of: none of it may reach a bank.
SOCIAL_FIELDS = {"diagnostic", "checks", "household", "resources", "charges", "opinion", "monthly_resources_cents",
                 "monthly_charges_cents", "remaining_after_instalment_cents", "ficp", "referral_source", "documents"}


async def test_a_submitted_file_enters_its_counsellors_queue_with_the_diagnostic(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    mine, colleagues = fatou_diallo(), application_submitted(counsellor_id="c-roux", applicant_name="Kevin Martin")
    for event in (mine, colleagues):
        await assessment.deliver(event)

    queue = (await assessment.http.get("/assessments", params={"status": "pending_review"}, headers=COUNSELLOR)).json()
    supervised = (await assessment.http.get("/assessments", params={"status": "pending_review"}, headers=SUPERVISOR)).json()

    assert [f["applicant_name"] for f in queue] == ["Fatou Diallo"]
    assert queue[0]["failed_checks"] == ["ficp"]  # the FICP is still to be consulted
    assert {f["applicant_name"] for f in supervised} == {"Fatou Diallo", "Kevin Martin"}
    file = (await assessment.http.get(f"/assessments/{mine.data.application_id}", headers=COUNSELLOR)).json()
    # 1,651.05 € − 785.00 € = 866.05 €; 3,000 € over 36 months at 3.5 % = 87.91 €; 778.14 € left.
    # Units: 1 + 0.5 (15 years) + 0.3 (6 years) = 1.8; 778.14 / 1.8 = 432.30 € per unit.
    diagnostic = file["diagnostic"]
    assert (diagnostic["monthly_instalment_cents"], diagnostic["remaining_after_instalment_cents"]) == (87_91, 778_14)
    assert diagnostic["consumption_units"] == "1.8"
    assert diagnostic["remaining_after_instalment_per_unit_cents"] == 432_30


async def test_the_ficp_and_a_favourable_outcome_route_the_file_to_the_bank(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)

    assessed, routed = await outbox(assessment)

    assert assessed.type == "fr.microcredit.application.assessed.v1"
    assert assessed.data.outcome == "favourable"
    assert assessed.data.diagnostic.consumption_units is not None
    assert {c.name: c.passed for c in assessed.data.checks}["ficp"] is True
    assert routed.type == "fr.microcredit.application.routed.v1"
    assert (routed.data.application_id, routed.data.bank_id, routed.data.amount_cents) == (file, BANK, 300_000)
    view = (await assessment.http.get(f"/assessments/{file}", headers=COUNSELLOR)).json()
    assert view["status"] == "routed"


async def test_routing_without_the_ficp_consultation_is_refused(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    submitted = fatou_diallo()
    await assessment.deliver(submitted)

    refused = await assessment.http.post(f"/assessments/{submitted.data.application_id}/outcome", json=FAVOURABLE, headers=COUNSELLOR)

    assert refused.status_code == 409
    assert refused.json()["errors"][0]["rule"] == "ficp_required"
    assert await outbox(assessment) == []


async def test_the_bank_sees_what_it_needs_and_nothing_of_the_social_diagnostic(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)

    listed = (await assessment.http.get("/bank/files", headers=CMN)).json()
    one = (await assessment.http.get(f"/bank/files/{file}", headers=CMN)).json()

    assert [f["application_id"] for f in listed] == [str(file)]
    assert one == listed[0]
    assert (one["applicant_name"], one["birth_date"], one["purpose"]) == ("Fatou Diallo", "1987-02-11", "vehicle")
    assert (one["amount_cents"], one["duration_months"], Decimal(one["annual_rate"])) == (300_000, 36, Decimal("0.035"))
    assert one["association"]["counsellor_id"] == "c-lefebvre"
    assert one["association"]["contact"]
    assert not SOCIAL_FIELDS & set(one) and not SOCIAL_FIELDS & set(one["association"])
    assert "Lens" not in str(one)  # nothing of the opinion


async def test_the_bank_approves_over_http_with_the_fcs_guarantee(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)

    approved = await assessment.http.post(f"/bank/files/{file}/decision", json=APPROVAL, headers=CMN)

    assert approved.status_code == 200, approved.text
    decision = approved.json()["decision"]
    assert (decision["decision"], decision["guarantee_share"], decision["guaranteed_amount_cents"]) == ("approve", "0.5", 150_000)
    assert approved.json()["annual_rate"] == decision["annual_rate"] == "0.035"
    [approval] = [e for e in await outbox(assessment) if e.type == "fr.microcredit.loan.approved.v1"]
    assert (approval.data.first_due_date, approval.data.guarantee_share) == (date(2026, 4, 5), 0.5)
    stored = await assessment.fetch("select guarantee_share, guaranteed_amount_cents from assessments")
    assert (stored[0]["guarantee_share"], stored[0]["guaranteed_amount_cents"]) == (0.5, 150_000)


async def test_a_decision_taken_on_a_file_that_changed_meanwhile_is_taken_again_and_published_once(
    start_service: ServiceStarter,
) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)
    ctx = assessment.app.state.ctx
    terms = BankDecisionTerms.model_validate(APPROVAL)
    seen: list[str] = []

    async def decide(current: Assessment) -> Change | None:
        seen.append(current.status.value)
        if len(seen) == 1:  # the same approval lands over HTTP between this command's read and its write
            landed = await assessment.http.post(f"/bank/files/{file}/decision", json=APPROVAL, headers=CMN)
            assert landed.status_code == 200, landed.text
        return domain_decision.record_bank_decision(current, BANK, terms, ctx.settings.usury_table(),
                                                    Actor(subject=BANK, role="bank"), ctx.clock.now(), channel="http")

    async with ctx.pool.acquire() as conn:
        decided = await usecases._command(conn, file, decide)

    assert seen == ["routed", "approved"]  # written on the file as read: refused; taken again on the file as it is
    assert decided is not None and decided.status.value == "approved"
    assert [e.type for e in await outbox(assessment)].count("fr.microcredit.loan.approved.v1") == 1
    approvals = await assessment.fetch("select 1 from assessment_audit where application_id = $1 and action = 'loan_approved'", file)
    assert len(approvals) == 1


async def test_the_bank_declines_over_http_with_a_reason(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)

    declined = await assessment.http.post(
        f"/bank/files/{file}/decision", json={"decision": "decline", "reason": "Incident de paiement en cours sur un autre crédit."},
        headers=CMN,
    )

    assert declined.status_code == 200, declined.text
    [event] = [e for e in await outbox(assessment) if e.type == "fr.microcredit.loan.declined.v1"]
    assert (event.data.bank_id, event.data.counsellor_id) == (BANK, "c-lefebvre")


async def test_a_bank_decision_overdue_is_raised_once_30_days_after_routing(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)
    ops = bearer(tokens.ops())

    assessment.clock.advance(timedelta(days=29, hours=23))
    early = (await assessment.http.post("/operations/timers", json={}, headers=ops)).json()
    assessment.clock.advance(timedelta(hours=1))
    due = (await assessment.http.post("/operations/timers", json={}, headers=ops)).json()
    assessment.clock.advance(timedelta(days=5))
    later = (await assessment.http.post("/operations/timers", json={}, headers=ops)).json()

    assert (early["bank_decisions_overdue"], due["bank_decisions_overdue"], later["bank_decisions_overdue"]) == (0, 1, 0)
    [overdue] = [e for e in await outbox(assessment) if e.type == "fr.microcredit.bank.decision.overdue.v1"]
    assert (overdue.data.application_id, overdue.data.routed_on, overdue.data.days_waiting) == (file, TODAY, 30)


async def test_an_incomplete_file_returns_to_review_when_intake_updates_it(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    submitted = fatou_diallo()
    await assessment.deliver(submitted)
    file = submitted.data.application_id
    incomplete = {"outcome": "incomplete", "opinion": "Il manque l'avis de non-imposition 2025.", "missing_items": ["tax_notice"]}
    assert (await assessment.http.post(f"/assessments/{file}/outcome", json=incomplete, headers=COUNSELLOR)).status_code == 200

    update_data = {**submitted.data.model_dump(), "documents": {"tax_notice": "received"}, "changed_fields": ["documents.tax_notice"]}
    await assessment.deliver(new_event(ApplicationUpdated, source="/services/intake", subject=str(file), time=NOW,
                                       data=ApplicationUpdatedData(**update_data)))

    view = (await assessment.http.get(f"/assessments/{file}", headers=COUNSELLOR)).json()
    assert (view["status"], view["missing_items"], view["documents"]) == ("pending_review", [], {"tax_notice": "received"})


async def test_a_file_withdrawn_after_routing_can_no_longer_be_decided(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)
    withdrawn = ApplicationWithdrawnData(
        **OWNERSHIP, application_id=file, reason="A trouvé un emploi avec véhicule de fonction.", withdrawn_by="c-lefebvre"
    )
    await assessment.deliver(new_event(ApplicationWithdrawn, source="/services/intake", subject=str(file), time=NOW, data=withdrawn))

    response = await assessment.http.post(f"/bank/files/{file}/decision", json=APPROVAL, headers=CMN)

    assert response.status_code == 409
    assert (await assessment.http.get(f"/bank/files/{file}", headers=CMN)).json()["status"] == "withdrawn"
    ops = bearer(tokens.ops())
    assessment.clock.advance(timedelta(days=45))
    assert (await assessment.http.post("/operations/timers", json={}, headers=ops)).json()["bank_decisions_overdue"] == 0


async def test_the_audit_trail_says_who_did_what_and_when(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    file = await routed_file(assessment)
    assessment.clock.advance(timedelta(days=12))
    assert (await assessment.http.post(f"/bank/files/{file}/decision", json=APPROVAL, headers=CMN)).status_code == 200

    trail = (await assessment.http.get(f"/assessments/{file}/audit", headers=SUPERVISOR)).json()

    assert [(e["action"], e["actor"], e["actor_role"]) for e in trail] == [
        ("file_received", "/services/intake", "system"),
        ("ficp_recorded", "c-lefebvre", "counsellor"),
        ("outcome_recorded", "c-lefebvre", "counsellor"),
        ("routed", "c-lefebvre", "counsellor"),
        ("loan_approved", "svc-credit-mutuel-nord", "bank"),
    ]
    assert trail[1]["details"]["reference"] == "FICP-2026-03-02-0417"
    assert trail[-1]["at"].startswith((NOW + timedelta(days=12)).date().isoformat())


async def test_an_overridden_check_keeps_its_justification_in_the_event_and_the_audit(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    # Resources 1,050 €, charges 700 €: 350 € − 87.91 € = 262.09 € per unit, under the 300 € minimum.
    submitted = application_submitted(monthly_resources_cents=1_050_00, monthly_charges_cents=700_00)
    await assessment.deliver(submitted)
    file = submitted.data.application_id
    await assessment.http.post(f"/assessments/{file}/ficp", json=FICP_CLEAR, headers=COUNSELLOR)
    justification = "Reprise d'un CDI de nuit en avril : +420 € de salaire net confirmés par l'employeur."

    refused = await assessment.http.post(f"/assessments/{file}/outcome", json=FAVOURABLE, headers=COUNSELLOR)
    routed = await assessment.http.post(
        f"/assessments/{file}/outcome", json={**FAVOURABLE, "overrides": {"remaining_per_unit": justification}}, headers=COUNSELLOR
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {"field": "checks.remaining_per_unit", "rule": "check_failed", "message": refused.json()["detail"]}
    assert routed.status_code == 200, routed.text
    assessed = next(e for e in await outbox(assessment) if e.type == "fr.microcredit.application.assessed.v1")
    [overridden] = [c for c in assessed.data.checks if c.overridden]
    assert (overridden.name, overridden.justification) == ("remaining_per_unit", justification)
    trail = (await assessment.http.get(f"/assessments/{file}/audit", headers=COUNSELLOR)).json()
    assert any(e["action"] == "check_overridden" and e["details"]["justification"] == justification for e in trail)


async def test_the_usury_cap_cannot_be_overridden_over_http(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    submitted = application_submitted(amount_cents=6_000_01)
    await assessment.deliver(submitted)
    file = submitted.data.application_id
    await assessment.http.post(f"/assessments/{file}/ficp", json=FICP_CLEAR, headers=COUNSELLOR)
    usurious = {**FAVOURABLE, "amount_cents": 6_000_01, "annual_rate": "0.09", "overrides": {"usury_cap": "Accord du client."}}

    response = await assessment.http.post(f"/assessments/{file}/outcome", json=usurious, headers=COUNSELLOR)

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["rule"]) == ("overrides.usury_cap", "not_overridable")
    assert "cannot be overridden" in error["message"]


# --- the usury table out of date ------------------------------------------------------------------


async def usury_gauge(service: RunningService) -> float:
    """What /metrics says of the usury table: 1 when the current quarter's caps are missing."""
    text = (await service.http.get("/metrics")).text
    [value] = [line.split()[1] for line in text.splitlines() if line.startswith("microcredit_usury_table_out_of_date ")]
    return float(value)


async def test_while_the_table_holds_the_current_quarter_nothing_warns(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")  # 2 March 2026: the caps of 1 January 2026 are recorded
    submitted = fatou_diallo()
    await assessment.deliver(submitted)

    file = (await assessment.http.get(f"/assessments/{submitted.data.application_id}", headers=COUNSELLOR)).json()

    assert file["warnings"] == []
    assert await usury_gauge(assessment) == 0


async def test_a_quarter_without_its_caps_warns_on_the_file_and_in_the_metrics(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    submitted = fatou_diallo()
    await assessment.deliver(submitted)
    assessment.clock.advance(timedelta(days=30))  # 1 April 2026: the second quarter's caps are not in the table

    file = (await assessment.http.get(f"/assessments/{submitted.data.application_id}", headers=COUNSELLOR)).json()
    consulted = await assessment.http.post(
        f"/assessments/{submitted.data.application_id}/ficp", json=FICP_CLEAR, headers=COUNSELLOR
    )

    warning = (
        "Taux d'usure : la table s'arrête au trimestre du 01/01/2026 ; les taux du trimestre du 01/04/2026"
        " ne sont pas enregistrés, ceux du 01/01/2026 sont appliqués."
    )
    assert file["warnings"] == [warning]
    assert consulted.json()["warnings"] == [warning]
    assert await usury_gauge(assessment) == 1
    usury = next(c for c in consulted.json()["checks"] if c["name"] == "usury_cap")
    assert "en vigueur depuis le 01/01/2026" in usury["reason"]  # still applied, and the check says which
