"""Driving the directory service in the integration tests: its admin, the tests' directory put through its API, and its
snapshots handed to the services that keep a copy, as its outbox relay and the broker would."""

from __future__ import annotations

from typing import Any

from shared.events import Envelope, parse_event
from tests.integration.conftest import RunningService
from tests.support import directory, tokens
from tests.support.tokens import bearer

ADMIN = bearer(tokens.admin())


async def fill(service: RunningService) -> None:
    """Put the tests' directory (`directory.snapshots()`) through the admin API: each entity at version 1."""
    for snapshot in directory.snapshots():
        path, body = directory.put_body(snapshot)
        answer = await service.http.put(path, json=body, headers=ADMIN)
        assert answer.status_code == 201, answer.text


async def published(service: RunningService) -> list[Envelope[Any]]:
    """The snapshots the directory wrote to its outbox and has not handed on yet, oldest first."""
    rows = await service.fetch("select payload from outbox order by id")
    return [parse_event(bytes(r["payload"])) for r in rows]


async def relay(service: RunningService, *readers: RunningService) -> list[Envelope[Any]]:
    """Hand the directory's new snapshots to `readers` (running services, not restarted), and clear its outbox."""
    events = await published(service)
    for reader in readers:
        for event in events:
            await reader.deliver(event)
    await service.fetch("delete from outbox")
    return events
