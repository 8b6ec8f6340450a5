"""The one declaration of Kafka principals and ACLs (deploy/kafka_security/) says what the services really do."""

from __future__ import annotations

import re

import pytest

from deploy import asyncapi, kafka_security
from deploy.kafka_security import acls, bank_principal, seed_banks
from shared.events import PartnerTopics, Topics

pytestmark = pytest.mark.unit

BANKS = seed_banks()


def _granted(principal: str) -> dict[tuple[str, str, str], set[str]]:
    return {(a.resource_type, a.name, a.pattern): set(a.operations) for a in acls(BANKS) if a.principal == principal}


def _covers(declared: tuple[str, ...], named: str) -> bool:
    """Whether a declared topic (or partner prefix) covers what a subscriber names: a topic, or a pattern."""
    if named in declared:
        return True
    prefixes = [t for t in declared if t in kafka_security.PARTNER_PREFIXES]
    return any(re.fullmatch(named, f"{prefix}some-bank.v1") for prefix in prefixes) and not any(
        re.fullmatch(named, f"{other}some-bank.v1") for other in set(kafka_security.PARTNER_PREFIXES) - set(prefixes)
    )


@pytest.mark.parametrize("service", asyncapi.SERVICES)
def test_each_service_reads_under_its_real_groups_and_writes_what_its_outbox_publishes(service: str) -> None:
    ctx = asyncapi.service_app(service).state.ctx
    declared = kafka_security.services()[service]
    subscribed = {s.group_id for s in ctx.broker.subscribers}
    published = {p.topic for p in ctx.broker.publishers}

    # The groups the service subscribes with, and no other (the dead-letter keeper's included).
    assert set(declared.groups) == subscribed
    for group, named in ctx.groups.items():
        assert all(_covers(declared.groups[group], n) for n in named), (group, named)
    granted = _granted(service)
    for topic in published:
        prefix = next((p for p in kafka_security.PARTNER_PREFIXES if topic.startswith(p)), None)
        assert "Write" in granted[("topic", prefix, "prefixed") if prefix else ("topic", topic, "literal")], topic
    for group in subscribed:
        assert granted[("group", group, "literal")] == {"Read", "Describe"}


def test_a_bank_reads_only_its_feed_under_its_prefix_and_writes_only_its_incoming_topics() -> None:
    for bank in BANKS:
        assert _granted(bank_principal(bank)) == {
            ("topic", PartnerTopics.feed(bank), "literal"): {"Read", "Describe"},
            ("topic", PartnerTopics.decisions(bank), "literal"): {"Write", "Describe"},
            ("topic", PartnerTopics.payments(bank), "literal"): {"Write", "Describe"},
            ("group", PartnerTopics.group_prefix(bank), "prefixed"): {"Read", "Describe"},
        }


def test_the_services_get_the_banks_topics_of_one_kind_each_and_no_one_but_notifications_touches_a_feed() -> None:
    by_prefix = {
        service: {name: ops for (kind, name, pattern), ops in _granted(service).items() if pattern == "prefixed" and kind == "topic"}
        for service in kafka_security.services()
    }
    assert by_prefix["assessment"] == {PartnerTopics.DECISIONS_PREFIX: {"Read", "Write", "Describe"}}
    assert by_prefix["servicing"] == {PartnerTopics.PAYMENTS_PREFIX: {"Read", "Write", "Describe"}}
    assert by_prefix["notifications"] == {
        PartnerTopics.PREFIX: {"Write", "Create", "Describe"},  # never Read: it writes the feeds, it does not read them
        PartnerTopics.DECISIONS_PREFIX: {"Create", "Describe"},
        PartnerTopics.PAYMENTS_PREFIX: {"Create", "Describe"},
    }
    assert by_prefix["intake"] == by_prefix["directory"] == {}
    # The prefixes do not overlap: the feeds' prefix matches no incoming topic, and the other way round.
    feed, decisions, payments = PartnerTopics.of_bank("credit-mutuel-nord")
    assert [p for p in kafka_security.PARTNER_PREFIXES if feed.startswith(p)] == [PartnerTopics.PREFIX]
    assert [p for p in kafka_security.PARTNER_PREFIXES if decisions.startswith(p)] == [PartnerTopics.DECISIONS_PREFIX]
    assert [p for p in kafka_security.PARTNER_PREFIXES if payments.startswith(p)] == [PartnerTopics.PAYMENTS_PREFIX]


def test_no_service_writes_a_stream_it_neither_owns_nor_consumes() -> None:
    for service, access in kafka_security.services().items():
        consumed = {t for topics in access.groups.values() for t in topics}
        written = {name for (kind, name, _), ops in _granted(service).items() if kind == "topic" and "Write" in ops}
        assert written == {*access.writes, Topics.DEAD_LETTER, *consumed}, service


def test_no_one_is_granted_the_cluster_an_internal_topic_or_a_prefix_beyond_the_banks_topics() -> None:
    for rule in acls(BANKS):
        assert rule.resource_type in ("topic", "group"), rule
        assert not rule.name.startswith("__"), rule
        assert rule.resource_type == "group" or rule.pattern == "literal" or rule.name in kafka_security.PARTNER_PREFIXES, rule
    assert kafka_security.ADMIN not in {rule.principal for rule in acls(BANKS)}, "the admin is a super user, not an ACL"


def test_passwords_are_random_kept_between_starts_and_readable_by_their_owner_only(tmp_path) -> None:
    credentials = kafka_security.Credentials(tmp_path / "kafka" / "credentials.json")
    first = credentials.ensure(kafka_security.principals(BANKS))
    again = credentials.ensure(kafka_security.principals(BANKS))

    assert again == first and len(set(first.values())) == len(first) and all(len(p) >= 32 for p in first.values())
    assert credentials.path.stat().st_mode & 0o777 == 0o600
    assert credentials.login("bank-la-banque-postale").password == first["bank-la-banque-postale"]


def test_every_asyncapi_document_says_the_broker_wants_a_scram_sha_512_login() -> None:
    for name, document in asyncapi.documents().items():
        spec = document.to_jsonable()
        schemes = spec["components"]["securitySchemes"]
        assert set(schemes) == {"scram512"} and schemes["scram512"]["type"] == "scramSha512", name
        for server in spec["servers"].values():
            assert server["security"] == [{"$ref": "#/components/securitySchemes/scram512"}], name
