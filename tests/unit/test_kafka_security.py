"""The one declaration of Kafka principals and ACLs (deploy/kafka_security.py) says what the services really do."""

from __future__ import annotations

import pytest

from deploy import asyncapi, kafka_security
from deploy.kafka_security import acls, bank_principal, seed_banks
from shared.events import PartnerTopics, Topics

pytestmark = pytest.mark.unit

BANKS = seed_banks()


def _granted(principal: str) -> dict[tuple[str, str, str], set[str]]:
    return {(a.resource_type, a.name, a.pattern): set(a.operations) for a in acls(BANKS) if a.principal == principal}


@pytest.mark.parametrize("service", asyncapi.SERVICES)
def test_each_service_reads_under_its_real_groups_and_writes_what_its_outbox_publishes(service: str) -> None:
    ctx = asyncapi.service_app(service).state.ctx
    declared = kafka_security.services(BANKS)[service]
    subscribed = {s.group_id for s in ctx.broker.subscribers}
    published = {p.topic for p in ctx.broker.publishers}

    # The groups the service subscribes with, and no other (the dead-letter keeper's included).
    assert set(declared.groups) == subscribed
    for group, topics in ctx.groups.items():
        assert set(topics) <= set(declared.groups[group]), group
    assert published <= set(declared.writes)
    granted = _granted(service)
    for topic in published:
        assert "Write" in granted[("topic", topic, "literal")]
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


def test_no_service_writes_a_stream_it_neither_owns_nor_consumes_and_only_notifications_writes_the_feeds() -> None:
    for service, access in kafka_security.services(BANKS).items():
        consumed = {t for topics in access.groups.values() for t in topics}
        written = {name for (kind, name, _), ops in _granted(service).items() if kind == "topic" and "Write" in ops}
        assert written == {*access.writes, Topics.DEAD_LETTER, *consumed}, service
        feeds = {PartnerTopics.feed(b) for b in BANKS}
        assert (feeds <= written) == (service == "notifications"), service


def test_no_one_is_granted_a_cluster_or_prefixed_topic_or_internal_topic() -> None:
    for rule in acls(BANKS):
        assert rule.resource_type in ("topic", "group"), rule
        assert not rule.name.startswith("__"), rule
        assert rule.resource_type == "group" or rule.pattern == "literal", rule
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
        assert spec["components"]["securitySchemes"] == {"scram512": {"type": "scramSha512"}}, name
        for server in spec["servers"].values():
            assert server["security"] == [{"$ref": "#/components/securitySchemes/scram512"}], name
