"""Webhooks for partner banks, against a real HTTP receiver: signed, minimal, only their own, retried, paused, resent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.events import parse_event
from tests.integration.conftest import RunningService, ServiceStarter, loan_approved, payment_missed
from tests.support import notifications as support
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

CMN = bearer(tokens.bank("credit-mutuel-nord"))
OPS = bearer(tokens.ops())
ROUTED = "fr.microcredit.application.routed.v1"
APPROVED = "fr.microcredit.loan.approved.v1"
DISBURSED = "fr.microcredit.loan.disbursed.v1"
MISSED = "fr.microcredit.payment.missed.v1"
RECEIVED = "fr.microcredit.payment.received.v1"


async def subscribe(service: RunningService, endpoint: support.BankEndpoint, *types: str) -> dict[str, Any]:
    """Crédit Mutuel Nord subscribes its endpoint; the receiver learns the secret."""
    response = await service.http.post("/webhooks/subscriptions", json={"url": endpoint.url, "event_types": list(types)}, headers=CMN)
    assert response.status_code == 201, response.text
    endpoint.secret = response.json()["secret"]
    return response.json()  # type: ignore[no-any-return]


async def deliver_webhooks(service: RunningService) -> dict[str, Any]:
    """Run the webhook worker now."""
    response = await service.http.post("/operations/timers", json={"timers": ["webhooks"]}, headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def a_loan(service: RunningService, bank_id: str = "credit-mutuel-nord") -> tuple[UUID, UUID]:
    """A file routed to `bank_id` and its loan, disbursed."""
    application_id, loan_id = uuid4(), uuid4()
    await service.deliver(support.application_routed(application_id, bank_id))
    await service.deliver(support.loan_disbursed(loan_id, application_id))
    return loan_id, application_id


async def test_a_bank_receives_signed_minimal_events_about_its_own_files_and_loans_only(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    support.configure(monkeypatch, webhook_allow_insecure_urls=True)
    notifications = await start_service("notifications")
    with support.bank_endpoint(notifications.clock.now) as endpoint:
        subscription = await subscribe(notifications, endpoint, ROUTED, APPROVED, DISBURSED, MISSED)
        loan_id, application_id = await a_loan(notifications)
        await notifications.deliver(loan_approved(application_id))
        await notifications.deliver(payment_missed(loan_id, application_id=application_id))
        await notifications.deliver(support.payment_received(loan_id))  # not subscribed
        other_loan, other_file = await a_loan(notifications, "la-banque-postale")
        await notifications.deliver(payment_missed(other_loan, application_id=other_file))

        run = await deliver_webhooks(notifications)

    assert run["webhooks_delivered"] == 4
    assert sorted(h.headers["x-microcredit-event-type"] for h in endpoint.hooks) == sorted([ROUTED, APPROVED, DISBURSED, MISSED])
    assert all(h.signed for h in endpoint.hooks)
    for hook in endpoint.hooks:
        assert hook.headers["x-microcredit-delivery"] == hook.document["delivery_id"]
        assert hook.headers["x-microcredit-signature"].startswith("t=")
        text = hook.body.decode()
        assert "c-lefebvre" not in text and "secours-catholique" not in text and "Benali" not in text
    missed = next(h.document for h in endpoint.hooks if h.document["event_type"] == MISSED)
    assert missed["data"] == {
        "loan_id": str(loan_id), "application_id": str(application_id), "instalment_number": 1, "due_date": "2026-04-05",
        "amount_due_cents": 8_791, "amount_unpaid_cents": 8_791, "business_date": "2026-04-06",
    }
    listed = (await notifications.http.get("/webhooks/subscriptions", headers=CMN)).json()
    assert [s["id"] for s in listed] == [subscription["id"]]
    assert "secret" not in listed[0]  # shown once, at creation
    assert subscription["secret"].startswith("whsec_")


async def test_an_endpoint_failing_at_first_is_retried_with_backoff_and_gets_the_event_once(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    support.configure(monkeypatch, webhook_allow_insecure_urls=True, webhook_retry_base_seconds=30)
    notifications = await start_service("notifications")
    with support.bank_endpoint(notifications.clock.now, fail_first=2, answer_after_seconds=0.15) as endpoint:
        subscription = await subscribe(notifications, endpoint, ROUTED)
        await notifications.deliver(support.application_routed(uuid4()))

        runs = [await deliver_webhooks(notifications)]  # 503: retry in 30 s
        runs.append(await deliver_webhooks(notifications))  # not due yet
        notifications.clock.advance(timedelta(seconds=31))
        runs.append(await deliver_webhooks(notifications))  # 503: retry in 60 s
        notifications.clock.advance(timedelta(seconds=61))
        runs.append(await deliver_webhooks(notifications))  # 204
        notifications.clock.advance(timedelta(hours=1))
        runs.append(await deliver_webhooks(notifications))  # nothing left

    assert [(r["webhooks_delivered"], r["webhooks_retried"]) for r in runs] == [(0, 1), (0, 0), (0, 1), (1, 0), (0, 0)]
    assert [h.answered for h in endpoint.hooks] == [503, 503, 204]
    assert len({h.headers["x-microcredit-delivery"] for h in endpoint.hooks}) == 1  # one delivery id across retries
    assert len({h.body for h in endpoint.hooks}) == 1
    log = await notifications.http.get(f"/webhooks/subscriptions/{subscription['id']}/deliveries", headers=CMN)
    [delivery] = log.json()
    assert log.headers["X-Total-Count"] == "1"
    assert (delivery["status"], delivery["attempts"], delivery["id"]) == ("delivered", 3, endpoint.hooks[0].headers["x-microcredit-delivery"])
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 503, 204]
    # The endpoint answers 150 ms after reading each request: every attempt logs at least that long.
    assert [a["latency_ms"] >= 150 for a in delivery["attempt_log"]] == [True, True, True]


async def delivery_metrics(service: RunningService) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The webhook samples of the service's /metrics, as a scrape reads them: (name, labels) → value."""
    scraped = await service.http.get("/metrics")
    assert scraped.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name.startswith("microcredit_webhook_") and not sample.name.endswith("_created")
    }


def attempts(bank: str, outcome: str, reason: str = "") -> tuple[str, tuple[tuple[str, str], ...]]:
    return "microcredit_webhook_attempts_total", (("bank", bank), ("outcome", outcome), ("reason", reason))


PENDING = "microcredit_webhook_deliveries_pending"


async def test_a_failed_then_delivered_webhook_moves_the_attempt_counters_and_the_pending_gauge(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    support.configure(monkeypatch, webhook_allow_insecure_urls=True, webhook_retry_base_seconds=30)
    notifications = await start_service("notifications")
    with support.bank_endpoint(notifications.clock.now, fail_first=1) as endpoint:
        await subscribe(notifications, endpoint, ROUTED)
        await notifications.deliver(support.application_routed(uuid4()))

        await deliver_webhooks(notifications)  # 503: retry in 30 s
        after_failure = await delivery_metrics(notifications)
        notifications.clock.advance(timedelta(seconds=31))
        await deliver_webhooks(notifications)  # 204
        after_delivery = await delivery_metrics(notifications)

    bank = "credit-mutuel-nord"
    assert after_failure[attempts(bank, "failed", "status_5xx")] == 1
    assert attempts(bank, "delivered") not in after_failure
    assert (after_failure[PENDING, (("subscription", "active"),)], after_failure[PENDING, (("subscription", "paused"),)]) == (1, 0)
    assert after_delivery[attempts(bank, "failed", "status_5xx")] == 1
    assert after_delivery[attempts(bank, "delivered")] == 1
    assert after_delivery[PENDING, (("subscription", "active"),)] == 0


async def test_an_unreachable_endpoint_is_given_up_and_its_subscription_paused_in_the_metrics(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    with support.smtp_server() as smtp:
        support.configure(
            monkeypatch, smtp_port=smtp.port, webhook_allow_insecure_urls=True, webhook_max_attempts=1, webhook_pause_after_failures=1
        )
        notifications = await start_service("notifications")
        with support.bank_endpoint(notifications.clock.now) as endpoint:
            pass  # stopped: its port now refuses connections
        await subscribe(notifications, endpoint, ROUTED)
        await notifications.deliver(support.application_routed(uuid4()))
        await notifications.deliver(support.application_routed(uuid4()))

        run = await deliver_webhooks(notifications)
        scraped = await delivery_metrics(notifications)

    assert (run["webhooks_failed"], run["subscriptions_paused"]) == (1, 1)
    assert scraped[attempts("credit-mutuel-nord", "dead", "unreachable")] == 1
    assert scraped["microcredit_webhook_subscriptions_paused_total", (("bank", "credit-mutuel-nord"),)] == 1
    # The second event's delivery waits for the bank to resume its subscription.
    assert (scraped[PENDING, (("subscription", "active"),)], scraped[PENDING, (("subscription", "paused"),)]) == (0, 1)


async def test_a_subscription_that_keeps_failing_is_paused_its_bank_told_and_nothing_lost(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    with support.smtp_server() as smtp:
        support.configure(
            monkeypatch, smtp_port=smtp.port, webhook_allow_insecure_urls=True, webhook_retry_base_seconds=10, webhook_pause_after_failures=3
        )
        notifications = await start_service("notifications")
        with support.bank_endpoint(notifications.clock.now, fail_first=1000, failure_status=500) as endpoint:
            subscription = await subscribe(notifications, endpoint, ROUTED)
            await notifications.deliver(support.application_routed(uuid4()))
            runs = []
            for _ in range(4):
                runs.append(await deliver_webhooks(notifications))
                notifications.clock.advance(timedelta(minutes=5))
            paused = (await notifications.http.get(f"/webhooks/subscriptions/{subscription['id']}", headers=CMN)).json()
            await notifications.deliver(support.application_routed(uuid4()))  # arrives while paused: it waits
            while_paused = await deliver_webhooks(notifications)
            told = (await notifications.http.post("/operations/timers", json={"timers": ["emails"]}, headers=OPS)).json()

            endpoint.fail_first = 0  # the bank fixed its endpoint
            resumed = await notifications.http.post(f"/webhooks/subscriptions/{subscription['id']}/resumption", headers=CMN)
            after = await deliver_webhooks(notifications)

    assert [r["subscriptions_paused"] for r in runs] == [0, 0, 1, 0]
    assert len(endpoint.hooks) == 3 + 2  # three failures, then the two events after the resumption
    assert (paused["status"], paused["consecutive_failures"]) == ("paused", 3)
    assert while_paused["webhooks_delivered"] == 0
    assert told["emails_sent"] == 1
    [mail] = smtp.received
    assert mail.recipients == ["api-support@credit-mutuel-nord.example"]
    assert mail.subject == "[Microcrédit] Abonnement webhook suspendu après 3 échecs (credit-mutuel-nord)"
    assert f"POST /webhooks/subscriptions/{subscription['id']}/resumption" in mail.body
    [row] = await notifications.fetch("select payload from outbox where event_type = 'fr.microcredit.delivery.failed.v1'")
    failed = parse_event(bytes(row["payload"]))
    assert (failed.data.channel, failed.data.bank_id, str(failed.data.subscription_id)) == ("webhook", "credit-mutuel-nord", subscription["id"])
    assert (failed.data.subscription_paused, failed.data.consecutive_failures, failed.data.last_error) == (True, 3, "HTTP 500")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "active")
    assert after["webhooks_delivered"] == 2


async def test_a_bank_asks_for_a_delivery_again_and_gets_the_same_delivery_id(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    support.configure(monkeypatch, webhook_allow_insecure_urls=True)
    notifications = await start_service("notifications")
    with support.bank_endpoint(notifications.clock.now) as endpoint:
        await subscribe(notifications, endpoint, ROUTED)
        await notifications.deliver(support.application_routed(uuid4()))
        await deliver_webhooks(notifications)
        delivery_id = endpoint.hooks[0].headers["x-microcredit-delivery"]

        resent = await notifications.http.post(f"/webhooks/deliveries/{delivery_id}/resend", headers=CMN)
        notifications.clock.advance(timedelta(minutes=1))
        await deliver_webhooks(notifications)

    assert (resent.status_code, resent.json()["status"]) == (202, "pending")
    first, second = endpoint.hooks
    assert second.headers["x-microcredit-delivery"] == delivery_id and second.body == first.body
    assert second.headers["x-microcredit-signature"] != first.headers["x-microcredit-signature"]  # a fresh timestamp
    assert second.signed
    logged = (await notifications.http.get(f"/webhooks/deliveries/{delivery_id}", headers=CMN)).json()
    assert [a["number"] for a in logged["attempt_log"]] == [1, 2]


async def test_an_unsubscribed_endpoint_gets_nothing_more(monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter) -> None:
    support.configure(monkeypatch, webhook_allow_insecure_urls=True)
    notifications = await start_service("notifications")
    with support.bank_endpoint(notifications.clock.now) as endpoint:
        subscription = await subscribe(notifications, endpoint, ROUTED)

        deleted = await notifications.http.delete(f"/webhooks/subscriptions/{subscription['id']}", headers=CMN)
        await notifications.deliver(support.application_routed(uuid4()))
        run = await deliver_webhooks(notifications)

    assert deleted.status_code == 204
    assert (run["webhooks_delivered"], endpoint.hooks) == (0, [])
    assert (await notifications.http.get(f"/webhooks/subscriptions/{subscription['id']}", headers=CMN)).status_code == 404
    assert (await notifications.http.get("/webhooks/subscriptions", headers=CMN)).json() == []
