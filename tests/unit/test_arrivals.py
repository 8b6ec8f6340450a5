"""`Prefer: wait=N` (RFC 7240) as the services read it, and what a read answers with and without it."""

from __future__ import annotations

import pytest
from fastapi import Response

from shared.arrivals import MAX_WAIT_SECONDS, PREFERENCE_APPLIED, Arrivals, preferred_wait


@pytest.mark.parametrize(
    ("prefer", "seconds"),
    [
        ("wait=5", 5),
        ("respond-async, wait=10", 10),
        ("return=minimal,WAIT = 7", 7),
        ('wait="3"', 3),
        ("wait=4; foo=bar", 4),
        ("wait=0", 0),
        (f"wait={MAX_WAIT_SECONDS * 100}", MAX_WAIT_SECONDS),
    ],
)
def test_the_wait_a_prefer_header_asks_for_is_read_and_capped(prefer: str, seconds: int) -> None:
    assert preferred_wait(prefer) == seconds


@pytest.mark.parametrize("prefer", [None, "", "respond-async", "wait", "wait=", "wait=-1", "wait=1.5", "wait=abc", "wait=\u0663", "waiting=5"])
def test_a_prefer_header_without_a_wait_in_seconds_asks_for_none(prefer: str | None) -> None:
    assert preferred_wait(prefer) is None


async def test_a_read_without_the_preference_answers_at_once_and_says_nothing_of_it() -> None:
    arrivals = Arrivals("postgresql://nowhere.invalid/none", "unused")
    reads: list[int] = []

    async def read() -> int | None:
        reads.append(1)
        return None

    response = Response()
    assert await arrivals.honour("respond-async", response, ["k"], read) is None
    assert reads == [1] and PREFERENCE_APPLIED not in response.headers

    found = Response()
    assert await arrivals.honour("wait=9", found, ["k"], lambda: _value(42)) == 42
    assert found.headers[PREFERENCE_APPLIED] == "wait=9"
    assert not arrivals.listening  # found at the first read: no connection was opened


async def _value(value: int) -> int:
    return value
