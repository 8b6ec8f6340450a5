"""The service process's entry point: what its start-up built is out of the garbage collector's sight."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI

from shared.main import freeze_after_start_up

pytestmark = pytest.mark.unit


class Pool:
    """Stands for what a lifespan opens (a connection pool, consumers): it lives as long as the process."""


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The test process's own objects go back under the collector's watch afterwards."""
    yield
    gc.unfreeze()


def tracked(obj: object) -> bool:
    """Whether a collection would still scan `obj` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


async def test_what_the_lifespan_opened_is_frozen_once_started_and_what_requests_make_later_is_not(unfrozen: None) -> None:
    opened: list[Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        opened.append(Pool())
        yield

    app = FastAPI(lifespan=lifespan)
    freeze_after_start_up(app)
    async with app.router.lifespan_context(app):
        later = Pool()
        assert opened and not tracked(opened[0])
        assert tracked(later)
