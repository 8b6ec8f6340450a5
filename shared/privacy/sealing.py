"""Sealing the personal fields of events with their subject's data key, and opening the ones a service is granted.

The outbox writer seals (`Sealer`): every personal field (`shared.events.personal`) of an event leaves the
service — the outbox table, then Kafka — as `{"sealed": "A256GCM", "kid": <subject>, "iv", "ct"}`, encrypted with
the data key of the file's applicant (AES-256-GCM, a random 96-bit nonce, the associated data binding the event
type, the field and the subject: a sealed value cannot be moved to another event, field or person). A consumer
opens (`Opener`) only the fields its service is granted in `GRANTS`, declared here once; the others stay sealed.
Once the subject's key is destroyed (erasure), nothing opens: the fields stay sealed, and the consumer makes do
without them (`clear_or`, `ERASED`).

The keys of a batch come in one query (`KeyRing.keys`); an event without personal fields costs nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import TypeAdapter

from shared.events import (
    ApplicationSubmitted,
    ApplicationUpdated,
    ApplicationWithdrawn,
    Envelope,
)
from shared.events.personal import SEALED_ALGORITHM, Sealed, personal_fields, subject_of, to_seal
from shared.privacy.keyring import KeyRing, SubjectErased

log = logging.getLogger(__name__)

T = TypeVar("T")
EventT = TypeVar("EventT", bound=Envelope[Any])

# What a reader shows where a personal value can no longer be read (its subject was erased).
ERASED = "donnée effacée"
_NONCE_BYTES = 12

# Who may read which personal fields in clear: service → event class → fields. Every other reader (servicing,
# directory, intake reading assessment's events, the partner banks) gets them sealed.
GRANTS: dict[str, dict[type[Envelope[Any]], tuple[str, ...]]] = {
    # Assessment builds the budget diagnostic and the review from the whole file.
    "assessment": {
        ApplicationSubmitted: personal_fields(ApplicationSubmitted),
        ApplicationUpdated: personal_fields(ApplicationUpdated),
        ApplicationWithdrawn: personal_fields(ApplicationWithdrawn),
    },
    # Notifications names the applicant in the counsellor's e-mails, nothing more.
    "notifications": {
        ApplicationSubmitted: ("applicant_name",),
        ApplicationUpdated: ("applicant_name",),
    },
}
# The services given the KEK wherever they run (local, compose, Kubernetes): those that seal or open personal fields
# (`needs_keyring` of their definition; a unit test keeps them in), and any that destroys keys (erasure).
KEY_HOLDERS: tuple[str, ...] = ("intake", "assessment", "notifications", "servicing", "privacy")


def needs_keyring(service: str, publishes: Iterable[type[Envelope[Any]]] = ()) -> bool:
    """Whether a service seals (it publishes events with personal fields) or opens some (it is granted them): it needs
    the KEK and the keyring's tables."""
    return service in GRANTS or any(personal_fields(cls) for cls in publishes)


def _aad(event_type: str, field: str, subject: UUID) -> bytes:
    return f"{event_type}|{field}|{subject}".encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def seal_event(event: EventT, subject: UUID, key: bytes | None) -> EventT:
    """`event` with its clear personal fields sealed with `key` (None: the subject was erased — a throwaway key nobody
    keeps, so the values are as unreadable as the subject's other data)."""
    fields = to_seal(event)
    if not fields:
        return event
    aead = AESGCM(key if key is not None else AESGCM.generate_key(bit_length=256))
    values = event.data.model_dump(mode="json", include=set(fields))
    sealed = {}
    for name in fields:
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(values[name], ensure_ascii=False, separators=(",", ":")).encode()
        ct = aead.encrypt(nonce, plain, _aad(event.type, name, subject))
        sealed[name] = Sealed.model_construct(sealed=SEALED_ALGORITHM, kid=subject, iv=_b64(nonce), ct=_b64(ct))
    return event.model_copy(update={"data": event.data.model_copy(update=sealed)})


@cache
def _clear_type(data_cls: type[Any], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(data_cls.model_fields[name].annotation)


def open_event(event: EventT, fields: Iterable[str], keys: Mapping[UUID, bytes | None]) -> EventT:
    """`event` with those of `fields` that are sealed opened with their subject's key; a field whose key is
    destroyed (or that does not open) stays sealed."""
    data = event.data
    opened: dict[str, Any] = {}
    ciphers: dict[UUID, AESGCM] = {}
    for name in fields:
        value = getattr(data, name)
        if not isinstance(value, Sealed):
            continue
        aead = ciphers.get(value.kid)
        if aead is None:
            key = keys.get(value.kid)
            if key is None:
                continue
            aead = ciphers[value.kid] = AESGCM(key)
        try:
            plain = aead.decrypt(base64.b64decode(value.iv), base64.b64decode(value.ct), _aad(event.type, name, value.kid))
        except InvalidTag:
            log.warning("%s %s: field %s does not open with the key of subject %s", event.type, event.id, name, value.kid)
            continue
        opened[name] = _clear_type(type(data), name).validate_python(json.loads(plain))
    if not opened:
        return event
    return event.model_copy(update={"data": data.model_copy(update=opened)})


def still_sealed(event: Envelope[Any]) -> tuple[str, ...]:
    """The personal fields of `event` that are sealed (not granted, or their subject erased)."""
    return tuple(f for f in personal_fields(type(event)) if isinstance(getattr(event.data, f), Sealed))


def clear_or(value: T | Sealed, default: T) -> T:
    """A personal value, or `default` where it stays sealed (e.g. `ERASED`, or None)."""
    return default if isinstance(value, Sealed) else value


class Sealer:
    """Seals the personal fields of the events a service writes, with their subjects' keys (made on first use)."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    async def seal(self, conn: asyncpg.Connection, events: Sequence[EventT]) -> list[EventT]:
        """`events` with their personal fields sealed, in the caller's transaction; one query for the keys of them all.

        Raises ValueError for an event with a personal value but no subject (`application_id`) to seal it for.
        """
        pending = [(i, e, subject_of(e)) for i, e in enumerate(events) if to_seal(e)]
        if not pending:
            return list(events)
        if any(s is None for _, _, s in pending):
            bad = next(e for _, e, s in pending if s is None)
            raise ValueError(f"{bad.type} {bad.id}: personal fields but no application_id to seal them for")
        subjects = list(dict.fromkeys(s for _, _, s in pending if s is not None))
        # One subject (a counsellor's command): its key, made on first use, in one statement. Several (a consumer's
        # batch): the existing keys in one query, then the missing ones made (a subject's first personal event).
        keys = dict.fromkeys(subjects) if len(subjects) == 1 else await self._keyring.keys(conn, subjects)
        for subject, key in keys.items():
            if key is None:  # never made, or destroyed
                try:
                    keys[subject] = await self._keyring.key_for(conn, subject, next(e.time for _, e, s in pending if s == subject))
                except SubjectErased:
                    log.warning("subject %s was erased: the personal fields of its new events are sealed for no one", subject)
        sealed = list(events)
        for i, event, subject in pending:
            assert subject is not None
            sealed[i] = seal_event(event, subject, keys[subject])
        return sealed


class Opener:
    """Opens, for one service, the personal fields `GRANTS` gives it, in the caller's transaction."""

    def __init__(self, keyring: KeyRing, grants: Mapping[type[Envelope[Any]], tuple[str, ...]]) -> None:
        self._keyring = keyring
        self._grants = {cls.event_type(): fields for cls, fields in grants.items() if fields}

    @classmethod
    def for_service(cls, service: str, keyring: KeyRing) -> Opener | None:
        """The opener of `service`, None when it is granted nothing."""
        grants = GRANTS.get(service)
        return cls(keyring, grants) if grants else None

    async def open(self, conn: asyncpg.Connection, events: Sequence[EventT]) -> list[EventT]:
        """`events` with the granted fields opened; one query for the keys of the whole batch."""
        wanted: dict[int, tuple[str, ...]] = {}
        subjects: set[UUID] = set()
        for i, event in enumerate(events):
            fields = self._grants.get(event.type)
            if not fields:
                continue
            kids = {v.kid for f in fields if isinstance(v := getattr(event.data, f), Sealed)}
            if kids:
                wanted[i] = fields
                subjects |= kids
        if not wanted:
            return list(events)
        keys = await self._keyring.keys(conn, subjects)
        return [open_event(e, wanted[i], keys) if i in wanted else e for i, e in enumerate(events)]
