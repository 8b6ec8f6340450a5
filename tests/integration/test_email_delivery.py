"""E-mails reach a person over a real SMTP server: in French, once, retried, and not lost when the service stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.notifications.email.domain import email_id
from shared.clock import FixedClock
from shared.events import parse_event
from tests.integration.conftest import NOW, TODAY, RunningService, ServiceStarter, application_submitted, payment_missed, run_service
from tests.support import notifications as support
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

COUNSELLOR = bearer(tokens.counsellor())
OPS = bearer(tokens.ops())
CLAIRE = "claire.lefebvre@secours-catholique.example"


async def run(service: RunningService, *names: str) -> dict[str, Any]:
    """Run timers and workers now, as ops would."""
    response = await service.http.post("/operations/timers", json={"timers": list(names or ("emails",))}, headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def attempts(service: RunningService, outcome: str, reason: str = "") -> float | None:
    """The e-mail attempts counter of the service's /metrics registry."""
    return service.app.state.ctx.registry.get_sample_value(  # type: ignore[no-any-return]
        "microcredit_email_attempts_total", {"outcome": outcome, "reason": reason}
    )


async def deliveries(service: RunningService) -> list[dict[str, Any]]:
    """The e-mail outbox."""
    return [dict(r) for r in await service.fetch("select id, kind, status, attempts, recipients, alert_id from email_deliveries order by created_at, id")]


async def test_an_alert_reaches_its_counsellor_by_email_in_french_once(monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter) -> None:
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port)
        notifications = await start_service("notifications")
        submitted = application_submitted()
        missed = payment_missed(application_id=submitted.data.application_id)
        await notifications.deliver(submitted)
        await notifications.deliver(missed)

        first = await run(notifications)
        second = await run(notifications)

    assert (first["emails_sent"], second["emails_sent"]) == (1, 0)
    [mail] = smtp.received
    [alert] = (await notifications.http.get("/alerts", headers=COUNSELLOR)).json()
    loan = missed.data.loan_id
    assert mail.recipients == [CLAIRE]
    assert mail.subject == "[Microcrédit] Échéance impayée — Nadia Benali (à traiter)"
    assert mail.message["Message-ID"] == f"<{email_id('alert', alert['id'])}@microcredit.example.org>"
    body = mail.body
    assert "Emprunteur : Nadia Benali" in body
    assert f"Prêt : {loan}" in body
    assert "Échéance n° 1 du 05/04/2026 impayée (87,91 € sur 87,91 €)" in body
    assert "Que faire :\n  Appeler l'emprunteur" in body
    assert f"Ouvrir le dossier : https://alertes.microcredit.example/loans/{loan}" in body
    [row] = await deliveries(notifications)
    assert (row["status"], row["attempts"]) == ("sent", 1)


async def test_the_shared_queue_goes_to_the_associations_mailbox(monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter) -> None:
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port)
        notifications = await start_service("notifications")
        await notifications.deliver(payment_missed(counsellor_id=""))

        await run(notifications)

    assert [m.recipients for m in smtp.received] == [["microcredit.hdf@secours-catholique.example"]]
    assert "Suivi par : file partagée" in smtp.received[0].body


async def test_a_server_refusing_the_first_attempts_gets_the_email_once_after_backoff(monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter) -> None:
    with support.smtp_server(refuse_first=2) as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port, email_retry_base_seconds=60)
        notifications = await start_service("notifications")
        await notifications.deliver(payment_missed())

        runs = [await run(notifications)]  # refused: retry in 60 s
        runs.append(await run(notifications))  # not due yet
        notifications.clock.advance(timedelta(seconds=61))
        runs.append(await run(notifications))  # refused again: retry in 120 s
        notifications.clock.advance(timedelta(seconds=61))
        runs.append(await run(notifications))  # not due yet
        notifications.clock.advance(timedelta(seconds=60))
        runs.append(await run(notifications))  # accepted
        notifications.clock.advance(timedelta(hours=1))
        runs.append(await run(notifications))  # nothing left

    assert [(r["emails_sent"], r["emails_retried"]) for r in runs] == [(0, 1), (0, 0), (0, 1), (0, 0), (1, 0), (0, 0)]
    assert (smtp.attempts, len(smtp.received)) == (3, 1)
    [row] = await deliveries(notifications)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert (attempts(notifications, "failed", "smtp_4xx"), attempts(notifications, "sent")) == (2, 1)
    assert notifications.app.state.ctx.registry.get_sample_value("microcredit_email_deliveries_pending") == 0


async def test_a_permanent_refusal_is_given_up_and_said(monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter) -> None:
    with support.smtp_server(refuse_first=1, refusal="550 5.1.1 Destinataire inconnu") as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port)
        notifications = await start_service("notifications")
        await notifications.deliver(payment_missed())

        result = await run(notifications)

    assert (result["emails_failed"], smtp.received) == (1, [])
    assert (attempts(notifications, "dead", "smtp_5xx"), attempts(notifications, "sent")) == (1, None)
    [row] = await deliveries(notifications)
    assert row["status"] == "failed"
    [outbox] = await notifications.fetch("select payload from outbox where event_type = 'fr.microcredit.delivery.failed.v1'")
    failed = parse_event(bytes(outbox["payload"]))
    assert (failed.data.channel, failed.data.alert_id, failed.data.delivery_id) == ("email", row["alert_id"], row["id"])
    assert "550" in failed.data.last_error


async def test_an_email_is_not_lost_when_the_service_stops_between_the_alert_and_its_delivery(
    monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    clock = FixedClock(NOW)
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port)
        async with run_service("notifications", database, clock=clock) as first:
            await first.deliver(payment_missed())
            pending = await deliveries(first)
        # The first process is gone before its mailer ran; a new one finds the e-mail in its outbox.
        async with run_service("notifications", database, clock=clock) as second:
            sent = await run(second)
            again = await run(second)

    assert [(d["kind"], d["status"]) for d in pending] == [("alert", "pending")]
    assert (sent["emails_sent"], again["emails_sent"], len(smtp.received)) == (1, 0, 1)


async def test_a_daily_digest_gathers_the_days_alerts_and_critical_ones_still_go_at_once(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port)
        notifications = await start_service("notifications")
        chosen = await notifications.http.put("/preferences/email", json={"mode": "daily_digest", "digest_hour": 18}, headers=COUNSELLOR)
        loan = uuid4()
        await notifications.deliver(payment_missed(loan))
        await notifications.deliver(payment_missed())
        morning = await run(notifications, "digests", "emails")
        # The same loan misses its second instalment: critical for the counsellor, and the supervisors hear of it.
        await notifications.deliver(payment_missed(loan, instalment_number=2, due_date=TODAY.replace(month=5, day=5)))
        at_once = await run(notifications, "digests", "emails")
        notifications.clock.instant = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)  # 18:05 in Paris
        evening = await run(notifications, "digests", "emails")
        later = await run(notifications, "digests", "emails")

    assert chosen.status_code == 200
    assert (morning["digests"], morning["emails_sent"]) == (0, 0)
    assert (at_once["digests"], at_once["emails_sent"]) == (0, 2)
    assert (evening["digests"], evening["emails_sent"]) == (1, 1)
    assert (later["digests"], later["emails_sent"]) == (0, 0)
    critical, escalation, digest = smtp.received
    assert critical.recipients == [CLAIRE] and "(urgent)" in critical.subject
    assert escalation.recipients == ["sophie.marchand@secours-catholique.example"]
    assert escalation.subject.startswith("[Microcrédit] Escalade : échéance impayée")
    assert digest.recipients == [CLAIRE]
    assert digest.subject == "[Microcrédit] Vos alertes du 02/03/2026 (2)"
    assert digest.body.count("Échéance impayée — demandeur — à traiter") == 2


async def test_a_snoozed_alert_reminds_its_counsellor_when_it_comes_back(monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter) -> None:
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port)
        notifications = await start_service("notifications")
        await notifications.deliver(payment_missed())
        [alert] = (await notifications.http.get("/alerts", headers=COUNSELLOR)).json()
        await notifications.http.post(f"/alerts/{alert['id']}/snooze", json={"until": "2026-03-04"}, headers=COUNSELLOR)
        await run(notifications, "reminders", "emails")
        notifications.clock.advance(timedelta(days=2))

        woken = await run(notifications, "reminders", "emails")

    assert woken["reminded"] == 1
    first, reminder = smtp.received
    assert reminder.subject == "[Microcrédit] Rappel : Échéance impayée (à traiter)"
    assert "Vous aviez mis cette alerte de côté" in reminder.body
    assert reminder.message["Message-ID"] != first.message["Message-ID"]
