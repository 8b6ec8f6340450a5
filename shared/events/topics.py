"""Kafka topic names: one topic per aggregate stream, keyed by the aggregate id."""

from __future__ import annotations

from typing import Final


class Topics:
    """The platform's topics. Every event of one aggregate goes to one topic, keyed by its id."""

    APPLICATIONS: Final = "microcredit.applications.v1"
    LOANS: Final = "microcredit.loans.v1"
    ALERTS: Final = "microcredit.alerts.v1"
    BANK_DECISIONS: Final = "microcredit.bank-decisions.v1"
    BANK_PAYMENTS: Final = "microcredit.bank-payments.v1"
    DIRECTORY: Final = "microcredit.directory.v1"
    DEAD_LETTER: Final = "microcredit.dead-letter.v1"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """Every topic the platform uses."""
        return (cls.APPLICATIONS, cls.LOANS, cls.ALERTS, cls.BANK_DECISIONS, cls.BANK_PAYMENTS, cls.DIRECTORY, cls.DEAD_LETTER)
