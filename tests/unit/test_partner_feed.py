"""What a partner bank receives of each event type of the catalogue: the allow-list and nothing else, never a personal field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.events import EVENT_CLASSES, PARTNER_FIELDS, for_partner, parse_event, payload_class
from shared.events.envelope import Envelope
from shared.events.partner import partner_event_class

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
# What identifies or describes a person, or what a counsellor thinks or wrote: never on a bank's feed or webhook.
PERSONAL = frozenset({
    "applicant_name", "birth_date", "household", "resources", "charges", "monthly_resources_cents", "monthly_charges_cents",
    "diagnostic", "checks", "opinion", "orientation", "project", "purpose", "payee", "documents", "missing_documents",
    "referral_source", "incomplete_reason", "message", "counsellor_id", "association_id", "region", "requested_by",
    "withdrawn_by", "acknowledged_by", "display_name", "name", "email", "username",
})
EVENTS = pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=lambda cls: cls.event_type())


def golden(event_cls: type[Envelope[Any]]) -> Envelope[Any]:
    return parse_event((GOLDEN / f"{event_cls.event_type()}.json").read_bytes())


def keys(document: Any) -> set[str]:
    """Every key at any depth of a JSON document."""
    if isinstance(document, dict):
        return set(document) | {k for v in document.values() for k in keys(v)}
    if isinstance(document, list):
        return {k for v in document for k in keys(v)}
    return set()


def texts(document: Any) -> set[str]:
    """Every string value at any depth of a JSON document."""
    if isinstance(document, dict):
        return {t for v in document.values() for t in texts(v)}
    if isinstance(document, list):
        return {t for v in document for t in texts(v)}
    return {document} if isinstance(document, str) else set()


def test_the_allow_list_names_real_fields_and_no_personal_one() -> None:
    for event_cls, fields in PARTNER_FIELDS.items():
        assert set(fields) <= set(payload_class(event_cls).model_fields), event_cls
        assert not set(fields) & PERSONAL, event_cls


@EVENTS
def test_a_partner_message_carries_only_the_allow_listed_fields_and_nothing_personal(event_cls: type[Envelope[Any]]) -> None:
    event = golden(event_cls)

    shared = for_partner(event)

    if event_cls not in PARTNER_FIELDS:
        assert shared is None  # a type absent from the allow-list never reaches a bank
        return
    assert shared is not None
    document = json.loads(shared.to_bytes())
    assert set(document["data"]) == set(PARTNER_FIELDS[event_cls])
    assert not keys(document) & PERSONAL
    assert [t for t in texts(document["data"]) if " " in t] == []  # ids, codes, dates and amounts; no one's prose
    # No value of a field the bank may not see travels under another name either (the applicant's name, a
    # counsellor's free text), unless the bank may see that same value (an id repeated in the subject).
    original = json.loads(event.to_bytes())
    hidden = texts({k: v for k, v in original["data"].items() if k not in PARTNER_FIELDS[event_cls]})
    seen = texts({k: v for k, v in original.items() if k != "data"}) | texts({k: original["data"][k] for k in PARTNER_FIELDS[event_cls]})
    sent = shared.to_bytes().decode()
    assert {t for t in hidden - seen if len(t) > 3 and t in sent} == set()
    # The same fact as the platform's event: same id, type, subject (the key) and time, its own schema.
    assert (document["id"], document["type"], document["subject"], document["time"]) == (
        original["id"], original["type"], original["subject"], original["time"]
    )
    assert document["dataschema"] == f"urn:microcredit:schema:partner:{event.type}"
    assert partner_event_class(event_cls).model_validate(document) == shared
