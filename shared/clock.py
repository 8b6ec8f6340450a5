"""An injectable clock, so business dates and timestamps can be moved in tests and demos."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# The platform serves France: a day (a payment received "today", a FICP consulted "today", a date "in the
# future") is France's calendar day, not UTC's — between midnight in Paris and midnight UTC they differ.
FRANCE = ZoneInfo("Europe/Paris")


def business_day(instant: datetime) -> date:
    """The calendar day in France at `instant` (an aware datetime)."""
    return instant.astimezone(FRANCE).date()


class Clock(Protocol):
    """Source of the current instant; every service takes one instead of calling datetime.now()."""

    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """Return the current UTC instant."""
        return datetime.now(UTC)

    def today(self) -> date:
        """Return today's date in France."""
        return business_day(self.now())


@dataclass
class FixedClock:
    """A clock that only moves when told to (tests, demos, replays)."""

    instant: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        """Return the frozen instant."""
        return self.instant

    def today(self) -> date:
        """Return the frozen instant's date in France."""
        return business_day(self.instant)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.instant += delta
