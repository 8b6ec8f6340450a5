"""A partner bank's topics: named after the bank, and the incoming topic a message is on gives back its bank."""

from __future__ import annotations

import re

import pytest

from shared.events import PartnerTopics


def test_a_banks_three_topics_are_named_after_it_and_its_incoming_topics_give_it_back() -> None:
    feed, decisions, payments = PartnerTopics.of_bank("credit-mutuel-nord")
    assert feed == "microcredit.partner.credit-mutuel-nord.v1"
    assert (PartnerTopics.bank_of(decisions), PartnerTopics.bank_of(payments)) == ("credit-mutuel-nord",) * 2
    assert re.fullmatch(PartnerTopics.DECISIONS_PATTERN, decisions) and not re.fullmatch(PartnerTopics.DECISIONS_PATTERN, payments)
    assert re.fullmatch(PartnerTopics.PAYMENTS_PATTERN, payments) and not re.fullmatch(PartnerTopics.PAYMENTS_PATTERN, feed)
    with pytest.raises(ValueError, match="not a partner bank's incoming topic"):
        PartnerTopics.bank_of(feed)


@pytest.mark.parametrize("bank_id", ["Crédit Agricole", "bank.evil", "", "a" * 64, "-leading-dash"])
def test_a_bank_id_that_cannot_name_a_topic_is_refused(bank_id: str) -> None:
    with pytest.raises(ValueError, match="cannot name a topic"):
        PartnerTopics.feed(bank_id)
