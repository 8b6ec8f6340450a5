"""Commands written in one statement, checked against the version of the row they read (Postgres' `xmin`).

A command reads its row with the row's version, lets the domain decide, and writes only if the row is still
that version: no BEGIN and COMMIT round trips, no lock held between two of them. A change that lands meanwhile
wins the race, and the command is taken again on the row as it is then, as a lock would have made it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from shared.errors import BusinessRuleError

T = TypeVar("T")

# How many times a command reads and decides again when its row changed between its read and its write.
ATTEMPTS: Final = 5


class Changed:
    """What an attempt answers when its write found the row changed since its read (`CHANGED`)."""


CHANGED: Final = Changed()


async def retry_while_changed(attempt: Callable[[], Awaitable[T | Changed]], *, what: str, field: str) -> T:
    """Run `attempt` (read, decide, write if unchanged) until it answers something else than `CHANGED`, at most
    `ATTEMPTS` times; then a 409 (`concurrent_change`) on `field`, saying that `what` kept changing."""
    for _ in range(ATTEMPTS):
        result = await attempt()
        if not isinstance(result, Changed):
            return result
    raise BusinessRuleError(
        f"{what} changed {ATTEMPTS} times while this request was applied to it: send it again",
        field=field, rule="concurrent_change", status=409,
    )
