"""Reads that wait for what an event will bring: RFC 7240's `Prefer: wait=N`, woken by the consumers' commits.

A bank that has just approved a file wants the loan's id to confirm the disbursement; a counsellor's script wants
the alert of a disbursement. What they wait for is made by an event a consumer applies a few milliseconds later,
so they would ask again and again. With `Prefer: wait=5`, `GET /loans?application_id=…` answers as soon as servicing
has applied the approval, or after 5 s with what there is then (an empty list), and says `Preference-Applied: wait=5`.

How a waiting read learns that something arrived: a consumer group registered with `announce=True` notifies the
keys of the records it applies on its schema's channel `applied:<schema>` (Postgres `NOTIFY`, sent by the batch's
inbox claim, `shared.inbox.claim_unparked`, so delivered at its transaction's commit and to every replica). Each
process with reads waiting listens there on one connection of its own, opened by the first waiting read and closed
after `idle_seconds` with none. A woken read reads again. If a notification is missed (the listening connection
lost), a waiting read still reads again every `recheck_seconds`. No connection of the pool is held while a read
waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import Header, Response

log = logging.getLogger(__name__)

T = TypeVar("T")
CHANNEL_PREFIX = "applied:"
MAX_WAIT_SECONDS = 30  # a longer `wait` is cut to this: a read never holds its connection open for minutes
PREFER_DESCRIPTION = (
    "RFC 7240: `wait=N` (seconds, at most 30) answers as soon as what is asked for exists, or after N seconds with "
    "what there is then; the answer then says `Preference-Applied: wait=N`. Other preferences are ignored."
)
PREFERENCE_APPLIED = "Preference-Applied"
# The `Prefer` request header of a read that may wait (RFC 7240).
Prefer = Annotated[str | None, Header(description=PREFER_DESCRIPTION)]


def channel(schema: str) -> str:
    """The Postgres channel on which the consumers of `schema`'s service announce the keys they applied."""
    return f"{CHANNEL_PREFIX}{schema}"


def preferred_wait(prefer: str | None) -> int | None:
    """The seconds a `Prefer` header asks to wait (`wait=N`, RFC 7240 §4.3), at most MAX_WAIT_SECONDS; None without one.

    Preferences are comma-separated, each maybe with `;` parameters; a `wait` that is not a number of seconds is
    ignored, as the RFC asks of a preference a server does not understand.
    """
    for preference in (prefer or "").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() != "wait":
            continue
        value = value.strip().strip('"')
        if value.isascii() and value.isdigit():
            return min(int(value), MAX_WAIT_SECONDS)
    return None


class Arrivals:
    """One process's waiting reads, by the key of the event that will bring what each waits for."""

    def __init__(self, dsn: str, schema: str, *, recheck_seconds: float = 1.0, idle_seconds: float = 30.0) -> None:
        self._dsn = dsn
        self._schema = schema
        self._recheck_seconds = recheck_seconds
        self._idle_seconds = idle_seconds
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """True while the process listens for its consumers' announcements."""
        return self._listening.is_set()

    async def honour(
        self, prefer: str | None, response: Response, keys: Iterable[str], read: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """What `read` finds: at once without `Prefer: wait=N`, else as soon as it finds something within N seconds."""
        seconds = preferred_wait(prefer)
        if seconds is None:
            return await read()
        response.headers[PREFERENCE_APPLIED] = f"wait={seconds}"
        return await self.wait_for(keys, read, seconds)

    async def wait_for(self, keys: Iterable[str], read: Callable[[], Awaitable[T | None]], seconds: float) -> T | None:
        """What `read` finds, as soon as it finds something, reading again when an event of one of `keys` is applied;
        None if it still found nothing after `seconds`."""
        if seconds <= 0:
            return await read()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        woken = asyncio.Event()
        keys = [str(key) for key in keys]
        # Registered before the first read: a commit that read does not see is announced to this read.
        for key in keys:
            self._waiting.setdefault(key, set()).add(woken)
        try:
            while True:
                woken.clear()
                found = await read()
                remaining = deadline - loop.time()
                if found is not None or remaining <= 0:
                    return found
                if not self._listening.is_set():
                    if self._task is None or self._task.done():
                        # In a context of its own: the listener outlives this request, and belongs to none of its traces.
                        self._task = asyncio.create_task(self._listen(), name=f"arrivals-{self._schema}", context=contextvars.Context())
                    # What committed before the LISTEN took effect is seen by the read that follows it.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._listening.wait(), min(remaining, self._recheck_seconds))
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, self._recheck_seconds))
        finally:
            for key in keys:
                waiters = self._waiting.get(key)
                if waiters is not None:
                    waiters.discard(woken)
                    if not waiters:
                        del self._waiting[key]

    async def close(self) -> None:
        """Stop listening (the service stops); reads still waiting go on reading every `recheck_seconds`."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, key: str) -> None:
        for woken in self._waiting.get(key, ()):
            woken.set()

    async def _listen(self) -> None:
        """Listen while reads wait; reconnect when the connection is lost, stop after `idle_seconds` without reads."""
        while self._waiting:
            try:
                conn = await asyncpg.connect(self._dsn, server_settings={"application_name": f"microcredit-{self._schema}-arrivals"})
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("cannot listen for %s's applied events (%s); waiting reads read again every %.1f s", self._schema, exc, self._recheck_seconds)
                await asyncio.sleep(self._recheck_seconds)
                continue
            lost = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _c: lost.set())
                await conn.add_listener(channel(self._schema), self._on_notify)
                self._listening.set()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._idle_seconds)
                    if not self._waiting:
                        break  # closed below; a read that came meanwhile has the loop listen again
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("lost the connection listening for %s's applied events: %s", self._schema, exc)
            finally:
                self._listening.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5.0)
                for waiters in list(self._waiting.values()):  # whatever was missed meanwhile: read again now
                    for woken in waiters:
                        woken.set()

