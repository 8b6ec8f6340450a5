"""Kafka topic names: one topic per aggregate stream, keyed by the aggregate id."""

from __future__ import annotations

import re
from typing import Final


class Topics:
    """The platform's topics. Every event of one aggregate goes to one topic, keyed by its id."""

    APPLICATIONS: Final = "microcredit.applications.v1"
    LOANS: Final = "microcredit.loans.v1"
    ALERTS: Final = "microcredit.alerts.v1"
    DIRECTORY: Final = "microcredit.directory.v1"
    PRIVACY: Final = "microcredit.privacy.v1"
    DEAD_LETTER: Final = "microcredit.dead-letter.v1"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """Every topic of the platform's own (each partner bank has three more: `PartnerTopics`)."""
        return (cls.APPLICATIONS, cls.LOANS, cls.ALERTS, cls.DIRECTORY, cls.PRIVACY, cls.DEAD_LETTER)


class PartnerTopics:
    """Each partner bank's own topics (issue 13): the topic a message is on says which bank it is for or from.

    `feed` carries only the events about the bank's own files and loans, cut to the partner allow-list;
    the bank writes its decisions and its payments to its two incoming topics, and nowhere else. The three kinds
    have prefixes of their own, so that one prefixed ACL gives a service every bank's topics of one kind, those of
    banks added later included, and nothing of the other kinds: notifications writes every feed
    (`microcredit.partner.`), assessment reads every decisions topic (`microcredit.partner-decisions.`),
    servicing every payments topic (`microcredit.partner-payments.`).
    """

    PREFIX: Final = "microcredit.partner."
    DECISIONS_PREFIX: Final = "microcredit.partner-decisions."
    PAYMENTS_PREFIX: Final = "microcredit.partner-payments."
    PREFIXES: Final = (PREFIX, DECISIONS_PREFIX, PAYMENTS_PREFIX)
    GROUP_PREFIX: Final = "partner."  # a bank's consumer groups are named partner.<bank_id>.<anything>
    _BANK_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

    @classmethod
    def _checked(cls, bank_id: str) -> str:
        if not cls._BANK_ID.fullmatch(bank_id):
            raise ValueError(f"bank id {bank_id!r} cannot name a topic: lowercase letters, digits and dashes only")
        return bank_id

    @classmethod
    def feed(cls, bank_id: str) -> str:
        """What the platform publishes to the bank."""
        return f"{cls.PREFIX}{cls._checked(bank_id)}.v1"

    @classmethod
    def decisions(cls, bank_id: str) -> str:
        """Where the bank writes its credit decisions."""
        return f"{cls.DECISIONS_PREFIX}{cls._checked(bank_id)}.v1"

    @classmethod
    def payments(cls, bank_id: str) -> str:
        """Where the bank writes the payments it received and reversed."""
        return f"{cls.PAYMENTS_PREFIX}{cls._checked(bank_id)}.v1"

    @classmethod
    def of_bank(cls, bank_id: str) -> tuple[str, str, str]:
        """The bank's three topics: its feed, its decisions, its payments."""
        return cls.feed(bank_id), cls.decisions(bank_id), cls.payments(bank_id)

    @classmethod
    def group_prefix(cls, bank_id: str) -> str:
        """The prefix of the consumer groups the bank may use on its feed."""
        return f"{cls.GROUP_PREFIX}{cls._checked(bank_id)}."

    # The addresses with the bank as a parameter, as the AsyncAPI documents and the catalogue name them.
    FEED_ADDRESS: Final = "microcredit.partner.{bank_id}.v1"
    DECISIONS_ADDRESS: Final = "microcredit.partner-decisions.{bank_id}.v1"
    PAYMENTS_ADDRESS: Final = "microcredit.partner-payments.{bank_id}.v1"

    DECISIONS_PATTERN: Final = r"microcredit\.partner-decisions\.[a-z0-9-]+\.v1"
    PAYMENTS_PATTERN: Final = r"microcredit\.partner-payments\.[a-z0-9-]+\.v1"

    @classmethod
    def bank_of(cls, topic: str) -> str:
        """The bank whose incoming topic `topic` is (ValueError for any other topic)."""
        match = re.fullmatch(r"microcredit\.partner-(?:decisions|payments)\.([a-z0-9-]+)\.v1", topic)
        if match is None:
            raise ValueError(f"{topic!r} is not a partner bank's incoming topic")
        return match.group(1)
