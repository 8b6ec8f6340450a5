"""Server-side sessions: the browser holds a random id in an HttpOnly cookie, everything else stays here.

The table keys a session by the SHA-256 of its id, so reading the table does not give anyone a cookie.
A session is rotated (new id, new CSRF token) when the person signs in, so an id planted before sign-in
is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared.clock import Clock

COOKIE = "mc_session"


def _hash(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


@dataclass
class Session:
    """One browser's session: before sign-in the provider round trip, after it the person's tokens."""

    id: str
    csrf: str
    expires_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    def csrf_matches(self, given: str | None) -> bool:
        """Whether a form or an htmx request carries this session's CSRF token."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())

    @property
    def signed_in(self) -> bool:
        """Whether a person signed in with this session."""
        return "access_token" in self.data


class SessionStore:
    """Sessions in Postgres (schema `web`), on an injected clock."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    async def create(self, data: dict[str, Any], ttl: timedelta) -> Session:
        """A new session with a fresh id and CSRF token."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._clock.now() + ttl, data)
        await self._pool.execute(
            "insert into sessions (id_hash, csrf, data, created_at, expires_at) values ($1, $2, $3, $4, $5)",
            _hash(session.id), session.csrf, json.dumps(data), self._clock.now(), session.expires_at,
        )
        return session

    async def load(self, raw_id: str | None) -> Session | None:
        """The session of this cookie value, unless unknown or past its end."""
        if not raw_id:
            return None
        row = await self._pool.fetchrow(
            "select csrf, data, expires_at from sessions where id_hash = $1 and expires_at > $2", _hash(raw_id), self._clock.now()
        )
        return Session(raw_id, row["csrf"], row["expires_at"], json.loads(row["data"])) if row else None

    async def save(self, session: Session) -> None:
        """Store what the session holds now."""
        await self._pool.execute("update sessions set data = $2 where id_hash = $1", _hash(session.id), json.dumps(session.data))

    async def rotate(self, session: Session, data: dict[str, Any], ttl: timedelta) -> Session:
        """Replace the session by a new one (new id, new CSRF token) holding `data`."""
        await self.delete(session.id)
        return await self.create(data, ttl)

    async def delete(self, raw_id: str) -> None:
        """End the session."""
        await self._pool.execute("delete from sessions where id_hash = $1", _hash(raw_id))

    async def alive(self) -> None:
        """Raise unless the sessions' database answers."""
        await self._pool.fetchval("select 1")

    async def purge(self) -> int:
        """Forget the sessions past their end; how many."""
        done = await self._pool.execute("delete from sessions where expires_at <= $1", self._clock.now())
        return int(done.split()[-1])
