"""The data keys of the people the platform serves, for crypto-shredding.

Personal fields of events are encrypted with the key of their data subject — the applicant of a file, identified
by the file's `application_id` — so that destroying that one key leaves every copy of those fields unreadable: on
every topic, in every consumer's copy of the log, in every backup of Kafka. The keys live outside Kafka, in the
`keyring` schema of the platform's database, each wrapped (AES-256-GCM, the subject id as associated data) by the
key-encryption key (KEK) the services receive as a secret; the keys themselves are never written in clear.
A destroyed key leaves a tombstone: a late event about an erased person cannot make them a new one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEYRING_MIGRATIONS = Path(__file__).parent / "sql"
KEY_BYTES = 32
_NONCE_BYTES = 12


class SubjectErased(Exception):
    """The subject's key was destroyed: their personal data can be neither read nor written any more."""

    def __init__(self, subject_id: UUID) -> None:
        super().__init__(f"the data key of subject {subject_id} was destroyed (erasure)")
        self.subject_id = subject_id


class KeyRing:
    """Gets, makes and destroys data keys, in the caller's transaction (`conn`)."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise ValueError(f"the key-encryption key must be {KEY_BYTES} bytes (AES-256), not {len(kek)}")
        self._kek = AESGCM(kek)

    async def key_for(self, conn: asyncpg.Connection, subject_id: UUID, now: datetime) -> bytes:
        """The subject's data key, made on first use. Raises `SubjectErased` if it was destroyed."""
        wrapped = self._wrap(subject_id, AESGCM.generate_key(bit_length=KEY_BYTES * 8))
        row = await conn.fetchrow(
            "with made as ("
            " insert into keyring.data_keys (subject_id, wrapped, created_at) values ($1, $2, $3)"
            " on conflict (subject_id) do nothing returning wrapped)"
            " select wrapped from made union all"
            " select wrapped from keyring.data_keys where subject_id = $1 and not exists (select from made)",
            subject_id, wrapped, now,
        )
        if row is None:  # made by a concurrent transaction not yet visible to this statement's snapshot: read again
            row = await conn.fetchrow("select wrapped from keyring.data_keys where subject_id = $1", subject_id)
        assert row is not None
        if row["wrapped"] is None:
            raise SubjectErased(subject_id)
        return self._unwrap(subject_id, row["wrapped"])

    async def keys(self, conn: asyncpg.Connection, subject_ids: Iterable[UUID]) -> dict[UUID, bytes | None]:
        """The keys of `subject_ids` in one query; None for a subject whose key was destroyed or never made."""
        wanted = list(dict.fromkeys(subject_ids))
        found: dict[UUID, bytes | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        rows = await conn.fetch(
            "select subject_id, wrapped from keyring.data_keys where subject_id = any($1::uuid[]) and wrapped is not null",
            wanted,
        )
        for row in rows:
            found[row["subject_id"]] = self._unwrap(row["subject_id"], row["wrapped"])
        return found

    async def destroy(self, conn: asyncpg.Connection, subject_id: UUID, now: datetime) -> bool:
        """Destroy the subject's key (crypto-shredding), leaving a tombstone; True if a readable key existed until now.

        Idempotent: destroying again, or a subject that never had a key, only makes sure the tombstone is there.
        """
        destroyed = await conn.fetchval(
            "with old as (select wrapped from keyring.data_keys where subject_id = $1 for update),"
            " gone as ("
            "  insert into keyring.data_keys (subject_id, wrapped, created_at, destroyed_at) values ($1, null, $2, $2)"
            "  on conflict (subject_id) do update set wrapped = null, destroyed_at = $2"
            "  where keyring.data_keys.wrapped is not null returning 1)"
            " select exists (select from old where wrapped is not null)",
            subject_id, now,
        )
        return bool(destroyed)

    def _wrap(self, subject_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._kek.encrypt(nonce, key, subject_id.bytes)

    def _unwrap(self, subject_id: UUID, wrapped: bytes) -> bytes:
        return self._kek.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], subject_id.bytes)


def new_kek() -> bytes:
    """A fresh key-encryption key (what `make run` writes once into the state directory)."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)
