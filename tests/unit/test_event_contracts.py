"""Event contracts: one golden CloudEvents sample per event type, parsed, round-tripped and evolved safely."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from shared.events import PartnerTopics, Topics, parse_event
from shared.events import EVENT_CLASSES
from shared.events.envelope import Envelope

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
VERSIONED_TYPE = re.compile(r"^fr\.microcredit(\.[a-z_]+)+\.v[1-9][0-9]*$")
# The aggregate each topic is keyed by: the subject must be that aggregate's id.
AGGREGATE_ID = {
    Topics.APPLICATIONS: "application_id",
    Topics.LOANS: "loan_id",
    Topics.ALERTS: "alert_id",
    Topics.PRIVACY: "subject_id",
    PartnerTopics.DECISIONS_ADDRESS: "application_id",
    PartnerTopics.PAYMENTS_ADDRESS: "loan_id",
}
# The directory's topic holds several kinds of entity: the subject is the entity's path, `associations/<id>`.


def type_of(event_cls: type[Envelope[Any]]) -> str:
    return event_cls.model_fields["type"].default


def golden(event_cls: type[Envelope[Any]]) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{type_of(event_cls)}.json").read_text(encoding="utf-8"))


def raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def money_fields(document: Any, path: str = "") -> dict[str, Any]:
    """Every `*_cents` value in a JSON document, by its dotted path."""
    found: dict[str, Any] = {}
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else key
            if key.endswith("_cents"):
                found[where] = value
            found |= money_fields(value, where)
    return found


def data_model(event_cls: type[Envelope[Any]]) -> Any:
    return event_cls.model_fields["data"].annotation


EVENTS = pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=type_of)
REQUIRED_FIELDS = [
    pytest.param(event_cls, where, name, id=f"{type_of(event_cls)}: {where}{name}")
    for event_cls in EVENT_CLASSES
    for where, model in (("", event_cls), ("data.", data_model(event_cls)))
    for name, field in model.model_fields.items()
    if field.is_required() or (where, name) == ("", "type")
]


def test_every_event_type_has_a_golden_sample() -> None:
    samples = {path.name.removesuffix(".json") for path in GOLDEN.glob("*.json")}

    assert samples == {type_of(event_cls) for event_cls in EVENT_CLASSES}


@EVENTS
def test_the_golden_sample_parses_into_its_event_class(event_cls: type[Envelope[Any]]) -> None:
    event = parse_event(raw(golden(event_cls)))

    assert type(event) is event_cls
    assert event.type == type_of(event_cls)


@EVENTS
def test_a_parsed_event_survives_serialising_and_parsing_again(event_cls: type[Envelope[Any]]) -> None:
    event = parse_event(raw(golden(event_cls)))

    assert parse_event(event.to_bytes()) == event


@EVENTS
def test_unknown_fields_from_a_newer_producer_are_ignored(event_cls: type[Envelope[Any]]) -> None:
    document = golden(event_cls)
    newer = {**document, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "partitionkey": "x"}
    newer["data"] = {**document["data"], "borrower_phone": "+33 6 12 34 56 78", "loyalty": {"since": 2019}}

    assert parse_event(raw(newer)) == parse_event(raw(document))


@EVENTS
def test_the_envelope_follows_cloudevents_1_0(event_cls: type[Envelope[Any]]) -> None:
    document = golden(event_cls)
    event = parse_event(raw(document))

    assert document["specversion"] == "1.0"
    assert UUID(document["id"]) == event.id
    assert document["source"].startswith(("/services/", "/banks/"))  # our services, or a partner bank
    assert VERSIONED_TYPE.match(document["type"])
    assert document["datacontenttype"] == "application/json"
    assert document["dataschema"] == f"urn:microcredit:schema:{document['type']}"
    assert event.time.utcoffset() is not None
    if event_cls.topic == Topics.DIRECTORY:
        kind, _, entity = document["subject"].partition("/")
        assert document["subject"] == event.data.subject() and entity in document["data"].values(), kind
    else:
        assert document["subject"] == document["data"][AGGREGATE_ID[event_cls.topic]]


@EVENTS
def test_money_is_integer_cents_in_the_sample_the_schema_and_the_serialised_event(event_cls: type[Envelope[Any]]) -> None:
    document = golden(event_cls)
    event = parse_event(raw(document))

    for sample in (document, json.loads(event.to_bytes())):
        # Optional amounts may be absent (null); present ones are integers.
        assert all(type(value) is int for value in money_fields(sample).values() if value is not None), money_fields(sample)
    for where, schema in money_fields(data_model(event_cls).model_json_schema()).items():
        json_types = {schema.get("type"), *(variant.get("type") for variant in schema.get("anyOf", []))} - {None, "null"}
        assert json_types == {"integer"}, (where, schema)


@pytest.mark.parametrize(("event_cls", "where", "name"), REQUIRED_FIELDS)
def test_an_event_without_a_required_field_is_refused(event_cls: type[Envelope[Any]], where: str, name: str) -> None:
    document = golden(event_cls)
    (document["data"] if where else document).pop(name)

    with pytest.raises(ValidationError) as refused:
        parse_event(raw(document))
    assert name in str(refused.value)


def test_an_amount_with_a_fraction_of_a_cent_is_refused() -> None:
    document = golden(EVENT_CLASSES[0])
    document["data"]["amount_cents"] = 300_000.5

    with pytest.raises(ValidationError, match="amount_cents"):
        parse_event(raw(document))
