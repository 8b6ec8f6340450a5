"""The keyring: one data key per subject, wrapped by the KEK, destroyed for good (crypto-shredding)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag

from shared.privacy.keyring import KEYRING_MIGRATIONS, KeyRing, SubjectErased, new_kek

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _connect(database: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database)
    for path in sorted(KEYRING_MIGRATIONS.glob("*.sql")):
        async with conn.transaction():
            await conn.execute(path.read_text())
    return conn


async def test_a_key_is_made_once_kept_wrapped_and_destroyed_for_good(database: str) -> None:
    conn = await _connect(database)
    try:
        kek = new_kek()
        ring, subject, other = KeyRing(kek), uuid4(), uuid4()
        key = await ring.key_for(conn, subject, NOW)
        assert len(key) == 32
        assert await KeyRing(kek).key_for(conn, subject, NOW) == key
        stored = await conn.fetchval("select wrapped from keyring.data_keys where subject_id = $1", subject)
        assert key not in stored
        assert await ring.keys(conn, [subject, other]) == {subject: key, other: None}
        with pytest.raises(InvalidTag):  # another platform's KEK cannot unwrap it
            await KeyRing(new_kek()).keys(conn, [subject])

        assert await ring.destroy(conn, subject, NOW) is True
        assert await ring.destroy(conn, subject, NOW) is False
        assert await ring.keys(conn, [subject]) == {subject: None}
        with pytest.raises(SubjectErased):
            await ring.key_for(conn, subject, NOW)
        assert await ring.destroy(conn, other, NOW) is False  # never had one: a tombstone all the same
        with pytest.raises(SubjectErased):
            await ring.key_for(conn, other, NOW)
    finally:
        await conn.close()
