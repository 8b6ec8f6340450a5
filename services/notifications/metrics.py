"""Notifications' own Prometheus metrics: e-mail and webhook delivery attempts, and what waits to be delivered.

Registered in the service's registry (`ctx.registry`, its `/metrics`) when the service starts; the
delivery workers find them with `DeliveryMetrics.of(ctx.registry)`. Each attempt counts once, by its
outcome: `sent` (e-mail) or `delivered` (webhook); `failed`, to be tried again; `dead`, failed and
given up. A failure carries a short `reason` class (`timeout`, `unreachable`, `smtp_4xx`, `status_5xx`…;
empty when it succeeded). The pending gauges are set by one count query at the end of each worker run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge

_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, DeliveryMetrics] = WeakKeyDictionary()


@dataclass(frozen=True)
class DeliveryMetrics:
    """Attempts by outcome and reason, subscriptions paused, deliveries pending."""

    email_attempts: Counter
    emails_pending: Gauge
    webhook_attempts: Counter
    webhook_subscriptions_paused: Counter
    webhooks_pending: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> DeliveryMetrics:
        """Create the metrics in `registry`; `of(registry)` finds them again."""
        metrics = cls(
            email_attempts=Counter(
                "microcredit_email_attempts",
                "E-mail delivery attempts by outcome (sent, failed: retried later, dead: given up) and failure reason.",
                ["outcome", "reason"], registry=registry,
            ),
            emails_pending=Gauge(
                "microcredit_email_deliveries_pending", "E-mails waiting to be sent (at the mailer's last run).", registry=registry
            ),
            webhook_attempts=Counter(
                "microcredit_webhook_attempts",
                "Webhook delivery attempts per bank, by outcome (delivered, failed: retried later, dead: given up) and failure reason.",
                ["bank", "outcome", "reason"], registry=registry,
            ),
            webhook_subscriptions_paused=Counter(
                "microcredit_webhook_subscriptions_paused",
                "Webhook subscriptions paused after repeated failures (the bank's contacts are told).", ["bank"], registry=registry,
            ),
            webhooks_pending=Gauge(
                "microcredit_webhook_deliveries_pending",
                "Webhook deliveries waiting (at the worker's last run), by their subscription's status (active or paused).",
                ["subscription"], registry=registry,
            ),
        )
        _BY_REGISTRY[registry] = metrics
        return metrics

    @classmethod
    def of(cls, registry: CollectorRegistry) -> DeliveryMetrics | None:
        """The metrics registered in `registry`, if any."""
        return _BY_REGISTRY.get(registry)

    def email_attempt(self, outcome: str, reason: str = "") -> None:
        """One e-mail attempt: `sent`, `failed` or `dead`."""
        self.email_attempts.labels(outcome, reason).inc()

    def webhook_attempt(self, bank: str, outcome: str, reason: str = "") -> None:
        """One webhook attempt to `bank`: `delivered`, `failed` or `dead`."""
        self.webhook_attempts.labels(bank, outcome, reason).inc()

    def webhooks_waiting(self, by_subscription_status: Mapping[str, int]) -> None:
        """Deliveries pending per subscription status (a status with none reads 0)."""
        for status in ("active", "paused"):
            self.webhooks_pending.labels(status).set(by_subscription_status.get(status, 0))
