"""Personal fields, over every event type: declared once on the contracts, sealed in the bytes the outbox writer
stores (and so in what reaches Kafka), the fields the flows need left in clear, opened only with the subject's key."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deploy.local.privacy import ensure_kek, kek_path, privacy_env
from services.assessment.app import DEFINITION as ASSESSMENT
from services.directory.app import DEFINITION as DIRECTORY
from services.intake.app import DEFINITION as INTAKE
from services.notifications.app import DEFINITION as NOTIFICATIONS
from services.servicing.app import DEFINITION as SERVICING
from shared import outbox
from shared.events import EVENT_CLASSES, PARTNER_FIELDS, ApplicationSubmitted, parse_event, payload_class
from shared.events.envelope import Envelope
from shared.events.personal import Sealed, personal_fields, subject_of
from shared.privacy.keyring import SubjectErased
from shared.privacy.sealing import ERASED, GRANTS, KEY_HOLDERS, Opener, Sealer, clear_or, needs_keyring, open_event, still_sealed

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
EVENTS = pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=lambda c: c.event_type())

# What the person confided, per event type: the decision of issue 14, written out once more so that a change of the
# contracts is a visible change here.
PERSONAL = {
    "fr.microcredit.application.submitted.v1": {
        "applicant_name", "birth_date", "household", "resources", "charges", "monthly_resources_cents", "monthly_charges_cents",
        "project", "incomplete_reason",
    },
    "fr.microcredit.application.withdrawn.v1": {"reason"},
    "fr.microcredit.application.assessed.v1": {"diagnostic", "opinion", "checks", "orientation"},
    "fr.microcredit.loan.adjustment.requested.v1": {"reason"},
}
PERSONAL["fr.microcredit.application.updated.v1"] = PERSONAL["fr.microcredit.application.submitted.v1"]
# Text fields left in clear, each with why: what a reader could take for something about the person, and is not.
NOT_PERSONAL = {
    "message": "alerts: written by the rules from amounts, dates and stages, never a name (notifications' templates)",
    "reason": "a bank's coded motive (decline, refusal, reversal) or a closure's kind, not the counsellor's account",
    "payee": "`borrower` or the supplier paid (a business), needed in clear by the alert of the disbursement",
    "name": "the directory's networks, associations, banks: organisations",
    "display_name": "the directory's contacts: the platform's staff (counsellors, bank officers), not the people served",
    "last_error": "an SMTP reply or HTTP status",
    "reason_codes": "an unfavourable outcome's coded reasons (vocabulary), counted by the funnel",
    "username": "the directory's contacts: the platform's staff",
}
FREE_TEXT = ("name", "reason", "opinion", "orientation", "message", "justification", "description", "payee", "note", "comment", "error")


def golden(event_cls: type[Envelope[Any]]) -> Envelope[Any]:
    """The golden sample, naming its subject (an adjustment's sample predates the field that names its file)."""
    event = parse_event((GOLDEN / f"{event_cls.event_type()}.json").read_bytes())
    if personal_fields(event_cls) and subject_of(event) is None:
        event = event.model_copy(update={"data": event.data.model_copy(update={"application_id": UUID(int=14)})})
    return event


class KeyRingInMemory:
    """The keyring's interface over a dict: what `Sealer` and `Opener` ask of it, without a database."""

    def __init__(self) -> None:
        self.data_keys: dict[UUID, bytes | None] = {}

    async def key_for(self, conn: Any, subject_id: UUID, now: Any) -> bytes:
        key = self.data_keys.setdefault(subject_id, AESGCM.generate_key(bit_length=256))
        if key is None:
            raise SubjectErased(subject_id)
        return key

    async def keys(self, conn: Any, subject_ids: Any) -> dict[UUID, bytes | None]:
        return {s: self.data_keys.get(s) for s in subject_ids}


class OutboxTable:
    """A connection that keeps the rows the outbox writer inserts."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    async def execute(self, query: str, *columns: list[Any]) -> None:
        assert "insert into outbox" in query
        self.payloads += columns[4]


async def leaving(event: Envelope[Any], keyring: KeyRingInMemory, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The bytes the outbox writer stores for `event` (what the relay then publishes as they are)."""
    monkeypatch.setattr(outbox.Sealing, "sealer", Sealer(keyring))  # type: ignore[arg-type]
    table = OutboxTable()
    await outbox.add_to_outbox(table, event)  # type: ignore[arg-type]
    [payload] = table.payloads
    return payload


def leaves(value: Any) -> list[str]:
    """The texts of a JSON value worth looking for in bytes (at least 4 characters; no null), the value itself included."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in leaves(v)] + [json.dumps(value, ensure_ascii=False)]
    if isinstance(value, list):
        return [t for v in value for t in leaves(v)]
    if value is None:
        return []
    text = value if isinstance(value, str) else json.dumps(value)
    return [text] if len(text) >= 4 else []


@EVENTS
def test_the_personal_fields_declared_on_the_contract_are_the_ones_decided(event_cls: type[Envelope[Any]]) -> None:
    assert set(personal_fields(event_cls)) == PERSONAL.get(event_cls.event_type(), set())


@EVENTS
def test_every_free_text_left_in_clear_is_one_known_not_to_be_about_the_person(event_cls: type[Envelope[Any]]) -> None:
    texts = [n for n in payload_class(event_cls).model_fields if any(word in n for word in FREE_TEXT)]
    assert [n for n in texts if n not in personal_fields(event_cls) and n not in NOT_PERSONAL] == []


@EVENTS
async def test_no_personal_value_is_readable_in_the_bytes_that_leave_the_service(
    event_cls: type[Envelope[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = golden(event_cls)
    payload = await leaving(event, KeyRingInMemory(), monkeypatch)

    personal = personal_fields(event_cls)
    clear = event.data.model_dump(mode="json", include=set(personal))
    rest = event.model_dump_json(exclude={"data": set(personal)})  # a text also said in a clear field ("vehicle") is no leak
    assert [t for name in personal for t in leaves(clear[name]) if t not in rest and t.encode() in payload] == []
    left = parse_event(payload)
    assert [n for n in personal if getattr(event.data, n) is not None and not isinstance(getattr(left.data, n), Sealed)] == []
    # What the flows route and decide on is untouched: ids, amounts, durations, rates, dates, statuses.
    assert left.model_dump(exclude={"data"}) == event.model_dump(exclude={"data"})
    assert left.data.model_dump(exclude=set(personal)) == event.data.model_dump(exclude=set(personal))
    if not personal:
        assert payload == event.to_bytes()  # nothing to seal: the bytes as before


@EVENTS
async def test_a_reader_with_the_key_opens_what_was_sealed_and_one_without_cannot(
    event_cls: type[Envelope[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = golden(event_cls)
    keyring = KeyRingInMemory()
    left = parse_event(await leaving(event, keyring, monkeypatch))

    assert open_event(left, personal_fields(event_cls), keyring.data_keys) == event
    assert open_event(left, personal_fields(event_cls), {}) == left  # the key destroyed: nothing opens, nothing fails


async def test_a_service_opens_only_the_fields_it_is_granted(monkeypatch: pytest.MonkeyPatch) -> None:
    event = golden(ApplicationSubmitted)
    keyring = KeyRingInMemory()
    left = parse_event(await leaving(event, keyring, monkeypatch))

    opened = {name: await Opener(keyring, GRANTS[name]).open(None, [left]) for name in GRANTS}  # type: ignore[arg-type]
    assert opened["assessment"] == [event]
    [for_notifications] = opened["notifications"]
    assert for_notifications.data.applicant_name == "Nadia Benali"
    assert set(still_sealed(for_notifications)) == {"birth_date", "household", "resources", "charges", "monthly_resources_cents",
                                                   "monthly_charges_cents", "project"}
    assert Opener.for_service("servicing", keyring) is None and Opener.for_service("directory", keyring) is None  # type: ignore[arg-type]


async def test_a_sealed_value_opens_only_in_its_own_field_event_and_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    event = golden(ApplicationSubmitted)
    keyring = KeyRingInMemory()
    left = parse_event(await leaving(event, keyring, monkeypatch))
    # The sealed name put in the place of the incomplete reason (the associated data names the field): it stays sealed.
    moved = left.model_copy(update={"data": left.data.model_copy(update={"incomplete_reason": left.data.applicant_name})})
    assert isinstance(open_event(moved, ("incomplete_reason",), keyring.data_keys).data.incomplete_reason, Sealed)


async def test_an_erased_subject_gets_nothing_readable_and_readers_show_the_value_as_erased(monkeypatch: pytest.MonkeyPatch) -> None:
    event = golden(ApplicationSubmitted)
    keyring = KeyRingInMemory()
    keyring.data_keys[event.data.application_id] = None  # destroyed before this event was written
    payload = await leaving(event, keyring, monkeypatch)

    assert b"Nadia Benali" not in payload
    left = parse_event(payload)
    assert set(still_sealed(left)) == set(personal_fields(ApplicationSubmitted)) - {"incomplete_reason"}
    assert clear_or(left.data.applicant_name, ERASED) == "donnée effacée"


async def test_without_a_sealer_the_outbox_refuses_a_personal_value_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox.Sealing, "sealer", None)
    with pytest.raises(RuntimeError, match="PRIVACY_KEK"):
        await outbox.add_to_outbox(OutboxTable(), golden(ApplicationSubmitted))  # type: ignore[arg-type]


def test_the_personal_fields_name_their_subject_and_never_reach_a_bank() -> None:
    for event_cls in EVENT_CLASSES:
        if personal_fields(event_cls):
            assert "application_id" in payload_class(event_cls).model_fields, event_cls
    assert {(cls.event_type(), f) for cls, fields in PARTNER_FIELDS.items() for f in fields if f in personal_fields(cls)} == set()
    assert all(set(fields) <= set(personal_fields(cls)) for grants in GRANTS.values() for cls, fields in grants.items())


def test_the_kek_goes_to_every_service_that_seals_or_opens_and_not_to_the_directory() -> None:
    definitions = (INTAKE, ASSESSMENT, SERVICING, NOTIFICATIONS, DIRECTORY)
    assert {d.name for d in definitions if needs_keyring(d.name, d.publishes)} == {"intake", "assessment", "servicing", "notifications"}
    assert {"intake", "assessment", "servicing", "notifications"} <= set(KEY_HOLDERS) and "directory" not in KEY_HOLDERS


def test_make_run_writes_the_kek_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = ensure_kek(tmp_path)

    assert len(base64.b64decode(first, validate=True)) == 32
    assert kek_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert ensure_kek(tmp_path) == first  # never replaced: the keys it wrapped stay readable
    assert privacy_env("intake", first) == {"PRIVACY_KEK": first} and privacy_env("directory", first) == {}
