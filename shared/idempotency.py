"""`Idempotency-Key` on every POST: a client's retry after a dropped connection gets the first answer, not a second draft.

The semantics of the IETF draft "The Idempotency-Key HTTP Header Field" (httpapi working group):
- the key is a Structured Field string, `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`; a bare
  token is taken as well. 1 to 255 printable ASCII characters, else 422 (`idempotency_key_format`);
- a key is scoped by the caller (the access token's subject) and the request's path: two callers, or
  two resources, never share one. A request without a valid token goes on without it (the route answers 401);
- the first request with a key runs; its answer (status, headers, body) is kept in the service's schema
  and replayed, with `Idempotency-Replayed: true`, to a retry with the same key and the same request
  (its fingerprint: SHA-256 of the query string and the body);
- the same key with another request: 422 problem (`idempotency_key_reused`); while the first request still
  runs: 409 problem with `Retry-After` (`idempotency_key_in_use`);
- an answer of 500 or more is not kept: the key is let go and the retry runs again;
- keys expire (`idempotency_key_ttl_seconds`, 24 h by default): an expired key is taken as a new one, and a
  background task deletes expired keys every `idempotency_cleanup_seconds`.

A pure ASGI middleware: requests without the header cost one header look-up. With it, two statements
more (the claim, then the answer kept) around the route's own; the answer reaches the client once kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import AuthError, principal_from_claims
from shared.clock import Clock
from shared.http import database_unavailable, problem_response, route_of, unavailable_response
from shared.middleware import header
from shared.oidc import TokenRefused, TokenVerifier
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotency-Replayed"
# The OpenAPI schema of the header, which `parse_key` follows exactly: printable ASCII, no space at either end.
KEY_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]([ -~]*[!-~])?$"}
_KEY = re.compile(KEY_SCHEMA["pattern"])
_SF_STRING = re.compile(r'^"((?:[ !#-\[\]-~]|\\["\\])*)"$')  # RFC 8941 sf-string: `\"` and `\\` are its only escapes
# A first request still running after this long is taken for dead (its process stopped): its key is free again.
IN_FLIGHT_LEASE = timedelta(seconds=60)
IN_FLIGHT_RETRY_AFTER = 1  # seconds
_NOT_KEPT = frozenset({b"content-length", b"date", b"server"})  # set anew on each answer
_CLEANUP_BATCH = 10_000


def parse_key(value: str) -> str | None:
    """The key a header value names (an sf-string's content, or the bare value), or None if it is not a key."""
    if len(value) > KEY_SCHEMA["maxLength"] or not _KEY.match(value):
        return None
    quoted = _SF_STRING.match(value)
    key = re.sub(r"\\(.)", r"\1", quoted.group(1)) if quoted else ""
    return key or value  # `""`, an empty string, is taken as the two characters it is


class _Pools(Protocol):
    def get(self) -> asyncpg.Pool: ...


class KeyContext(Protocol):
    """What the middleware needs of `shared.runtime.ServiceContext`."""

    pools: _Pools
    clock: Clock
    verifier: TokenVerifier
    settings: ServiceSettings


@dataclass(frozen=True)
class KeyedRequest:
    """A POST carrying a key: who sent it, where, with which key, and what it said."""

    caller: str
    path: str
    key: str
    fingerprint: bytes


@dataclass(frozen=True)
class FirstRequest:
    """What the first request with a key left: its fingerprint and, once answered, the answer."""

    fingerprint: bytes
    status: int | None
    headers: list[list[str]] | None
    body: bytes | None


_CLAIM = """
with claimed as (
    insert into idempotency_keys as k (caller, path, key, fingerprint, locked_until, expires_at)
    values ($1, $2, $3, $4, $5, $6)
    on conflict (caller, path, key) do update
        set fingerprint = excluded.fingerprint, status = null, headers = null, body = null,
            locked_until = excluded.locked_until, expires_at = excluded.expires_at
        where k.expires_at <= $7 or (k.status is null and k.locked_until <= $7)
    returning true
)
select true as claimed, null::bytea as fingerprint, null::integer as status, null::jsonb as headers, null::bytea as body
from claimed
union all
select false, fingerprint, status, headers, body from idempotency_keys
where caller = $1 and path = $2 and key = $3 and not exists (select from claimed)
"""


async def claim(pool: asyncpg.Pool, request: KeyedRequest, now: datetime, ttl: timedelta) -> FirstRequest | None:
    """Take the key for `request` (None: it runs), or what the first request with it left (one statement)."""
    for _ in range(3):
        row = await pool.fetchrow(
            _CLAIM, request.caller, request.path, request.key, request.fingerprint, now + IN_FLIGHT_LEASE, now + ttl, now
        )
        if row is not None:
            if row["claimed"]:
                return None
            headers = json.loads(row["headers"]) if row["headers"] is not None else None
            return FirstRequest(bytes(row["fingerprint"]), row["status"], headers, row["body"])
        # The first request's claim committed after this statement's snapshot was taken: read again.
    raise RuntimeError(f"idempotency key {request.key!r} neither taken nor found")


async def keep(pool: asyncpg.Pool, request: KeyedRequest, status: int, headers: list[list[str]], body: bytes) -> None:
    """Keep the first answer for the retries."""
    await pool.execute(
        "update idempotency_keys set status = $4, headers = $5::jsonb, body = $6"
        " where caller = $1 and path = $2 and key = $3 and fingerprint = $7 and status is null",
        request.caller, request.path, request.key, status, json.dumps(headers), body, request.fingerprint,
    )


async def let_go(pool: asyncpg.Pool, request: KeyedRequest) -> None:
    """Free the key of a request that failed (5xx, or no answer): its retry runs again."""
    await pool.execute(
        "delete from idempotency_keys where caller = $1 and path = $2 and key = $3 and fingerprint = $4 and status is null",
        request.caller, request.path, request.key, request.fingerprint,
    )


async def forget_expired(pool: asyncpg.Pool, now: datetime) -> int:
    """Delete the keys expired at `now`, a batch at a time; how many were deleted."""
    deleted = 0
    while True:
        status = await pool.execute(
            "delete from idempotency_keys where ctid = any(array("
            " select ctid from idempotency_keys where expires_at <= $1 limit $2))",
            now, _CLEANUP_BATCH,
        )
        count = int(status.split()[-1])
        deleted += count
        if count < _CLEANUP_BATCH:
            return deleted


async def forget_expired_periodically(ctx: KeyContext) -> None:
    """The background task deleting expired keys every `idempotency_cleanup_seconds`."""
    while True:
        await asyncio.sleep(ctx.settings.idempotency_cleanup_seconds)
        try:
            deleted = await forget_expired(ctx.pools.get(), ctx.clock.now())
            if deleted:
                log.info("deleted %d expired idempotency keys", deleted)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("expired idempotency keys not deleted; tried again next period")


async def caller_of(scope: Scope, verifier: TokenVerifier) -> str | None:
    """The subject of the request's bearer token, or None without a valid one (the token is verified once, then remembered)."""
    authorization = header(scope, b"authorization")
    if authorization is None or authorization[:7].lower() != "bearer ":
        return None
    try:
        return principal_from_claims(await verifier.claims(authorization[7:].strip())).subject
    except (TokenRefused, AuthError):
        return None


def _refused(status: int, title: str, rule: str, detail: str, headers: dict[str, str] | None = None) -> ASGIApp:
    return problem_response(status, title, detail, headers=headers, errors=[{"field": HEADER, "rule": rule, "message": detail}])


def answer_to(request: KeyedRequest, first: FirstRequest) -> ASGIApp:
    """What a request gets when its key was already used: the first answer, or why not."""
    if first.fingerprint != request.fingerprint:
        return _refused(
            422, "Idempotency key reused", "idempotency_key_reused",
            f"this {HEADER} was first sent with another request (body or query): a key names one request, send a new key",
        )
    if first.status is None:
        return _refused(
            409, "Idempotency key in use", "idempotency_key_in_use",
            f"the first request with this {HEADER} is still running: send it again in a moment to get its answer",
            headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER)},
        )
    return _Replay(first.status, first.headers or [], first.body or b"")


@dataclass(frozen=True)
class _Replay:
    status: int
    headers: list[list[str]]
    body: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers]
        raw += [(b"content-length", str(len(self.body)).encode()), (REPLAYED.lower().encode(), b"true")]
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client is still there."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(parts), False
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), True


class IdempotencyKeys:
    """The middleware: a POST with an `Idempotency-Key` runs once per key; its retries get its answer."""

    def __init__(self, app: ASGIApp, *, ctx: KeyContext, api: FastAPI) -> None:
        self.app = app
        self.ctx = ctx
        self.api = api

    async def _answer(self, answer: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer without running the route, counted under the route all the same (the request histogram)."""
        scope.setdefault("route", route_of(self.api, scope))
        await answer(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        value = header(scope, b"idempotency-key") if scope["type"] == "http" and scope["method"] == "POST" else None
        if value is None:
            await self.app(scope, receive, send)
            return
        key = parse_key(value)
        if key is None:
            detail = f"the {HEADER} header must be 1 to 255 printable ASCII characters, best sent as a quoted string"
            await self._answer(_refused(422, "Invalid request", "idempotency_key_format", detail), scope, receive, send)
            return
        caller = await caller_of(scope, self.ctx.verifier)
        if caller is None:
            await self.app(scope, receive, send)  # refused by the route (401), as without a key
            return
        body, connected = await _read_body(receive)
        if not connected:
            return  # the client left before it had sent its request: nothing ran, nothing to answer
        request = KeyedRequest(caller, scope["path"], key, hashlib.sha256(scope.get("query_string", b"") + b"\0" + body).digest())
        pool = self.ctx.pools.get()
        try:
            first = await claim(pool, request, self.ctx.clock.now(), timedelta(seconds=self.ctx.settings.idempotency_key_ttl_seconds))
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database unavailable: %r", exc)
            await self._answer(unavailable_response(), scope, receive, send)
            return
        if first is not None:
            await self._answer(answer_to(request, first), scope, receive, send)
            return
        await self._first(request, pool, scope, _replaying(body, receive), send)

    async def _first(self, request: KeyedRequest, pool: asyncpg.Pool, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the first request with the key; keep its answer (below 500) before the client gets it."""
        messages: list[Message] = []
        answered = False

        async def kept_then_sent(message: Message) -> None:
            nonlocal answered
            messages.append(message)
            if message["type"] != "http.response.body" or message.get("more_body", False):
                return
            answered = True
            start = messages[0]
            try:
                if start["status"] >= 500:
                    await let_go(pool, request)
                else:
                    headers = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in start.get("headers", ()) if n.lower() not in _NOT_KEPT]
                    body = b"".join(m.get("body", b"") for m in messages[1:])
                    await keep(pool, request, start["status"], headers, body)
            except Exception:  # the answer still goes out; a retry within the lease gets 409, then runs again
                log.exception("the answer to idempotency key %r of %s was not kept", request.key, request.caller)
            for kept in messages:
                await send(kept)

        try:
            await self.app(scope, receive, kept_then_sent)
        finally:
            if not answered:
                try:
                    await let_go(pool, request)
                except Exception:
                    log.exception("idempotency key %r of %s not let go; it frees itself after %s", request.key, request.caller, IN_FLIGHT_LEASE)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then what the client sends next (its disconnection)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
