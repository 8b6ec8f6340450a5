"""A handler that does its reads and writes once for a run of events instead of once per event.

A plain handler `(conn, event)` costs its round trips for every event. A `BatchHandler` splits the work in three:
`prepare(conn, events)` reads what the whole run needs (one query) and returns the run's state, `apply(conn, event,
state)` decides for one event from that state (and records in it what it did, so that a later event of the run sees
it: the same file twice opens once), and `finish(conn, state)` writes what the run left to write (one statement).

The consumer (`shared.consumer`) calls them inside the batch's transaction, after the inbox claim and after the
personal fields were opened, for each run of consecutive claimed events that go to the same batch handler, in
offset order: prepare, apply for each event, finish. A run ends at an event of another handler, so that handler
reads what the run wrote, and the next run prepares from the database as it is then — a state read before an
event of another handler changed it is never used. A batch that fails is split and its halves prepared again.

Called as a plain handler, a `BatchHandler` runs the three steps for its one event: the same effect, per event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from shared.events.envelope import Envelope

E = TypeVar("E", bound=Envelope[Any])
S = TypeVar("S")
R = TypeVar("R")


async def _nothing_left(_conn: asyncpg.Connection, _state: Any) -> None:
    return None


@dataclass(frozen=True, eq=False)  # compared by identity: one handler, one run
class BatchHandler(Generic[E, S]):
    """The three steps of a handler applied to a run of events of one transaction (see the module)."""

    prepare: Callable[[asyncpg.Connection, Sequence[E]], Awaitable[S]]
    apply: Callable[[asyncpg.Connection, E, S], Awaitable[None]]
    finish: Callable[[asyncpg.Connection, S], Awaitable[None]] = _nothing_left

    async def __call__(self, conn: asyncpg.Connection, event: E) -> None:
        """One event alone: prepared, applied and finished on its own."""
        state = await self.prepare(conn, (event,))
        await self.apply(conn, event, state)
        await self.finish(conn, state)


def writing_rows(
    row: Callable[[E], R], write: Callable[[asyncpg.Connection, list[R]], Awaitable[None]]
) -> BatchHandler[E, list[R]]:
    """A batch handler with nothing to read first: each event of the run gives `row(event)`, and `write` stores the
    run's rows at the end, in offset order (an upsert per row keeps the effect of the events one after the other)."""

    async def nothing_to_read(_conn: asyncpg.Connection, _events: Sequence[E]) -> list[R]:
        return []

    async def note(_conn: asyncpg.Connection, event: E, rows: list[R]) -> None:
        rows.append(row(event))

    return BatchHandler(nothing_to_read, note, write)
