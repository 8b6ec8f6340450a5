"""A list's `X-Total-Count`: read off the page when the page shows it, counted by the database otherwise."""

from __future__ import annotations

import pytest

from shared.http import Page, total_of


@pytest.mark.parametrize(
    ("found", "limit", "offset", "total", "counted"),
    [
        (0, 50, 0, 0, False),  # nothing at all
        (3, 50, 0, 3, False),  # one short page: everything is on it
        (7, 50, 100, 107, False),  # the last page
        (50, 50, 0, 999, True),  # a full page: there may be more
        (0, 50, 100, 999, True),  # past the end: how far is unknown
    ],
)
async def test_the_total_is_read_off_the_page_when_it_shows_it_and_counted_otherwise(
    found: int, limit: int, offset: int, total: int, counted: bool
) -> None:
    counts: list[int] = []

    async def count() -> int:
        counts.append(1)
        return 999

    assert await total_of(found, Page(limit, offset), count) == total
    assert await total_of(found, (limit, offset), count) == total
    assert bool(counts) is counted
