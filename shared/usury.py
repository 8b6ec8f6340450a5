"""Usury caps (taux d'usure) per amount band, as dated configuration read from `usury_caps.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Next to this module, so loading does not depend on the working directory.
DEFAULT_PATH: Final = Path(__file__).with_name("usury_caps.toml")

BAND_UP_TO_3000: Final = "up_to_3000_eur"
BAND_3000_TO_6000: Final = "over_3000_up_to_6000_eur"
BAND_OVER_6000: Final = "over_6000_eur"

_BAND_3000_LIMIT_CENTS: Final = 3_000_00
_BAND_6000_LIMIT_CENTS: Final = 6_000_00

Percent = Annotated[Decimal, Field(gt=0, lt=100)]


class UsuryTableError(ValueError):
    """The caps file is missing, not TOML, or breaks the table's rules."""


class NoUsuryCapError(LookupError):
    """No cap is recorded for the date asked: it is before the first entry of the table."""


@dataclass(frozen=True)
class UsuryCap:
    """The cap in force for one amount band: `rate` is a fraction per year (0.2349 = 23.49 %)."""

    band: str
    rate: Decimal
    valid_from: date


class BandRates(BaseModel):
    """The three consumer-credit caps of one publication, in percent per year."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to_3000_eur: Percent
    over_3000_up_to_6000_eur: Percent
    over_6000_eur: Percent


class UsuryQuarter(BaseModel):
    """One publication: the caps and the first day they apply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    valid_from: date
    rates_percent: BandRates


def quarter_start(day: date) -> date:
    """The first day of the calendar quarter `day` is in: the day a new publication takes effect."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class Freshness:
    """Whether the table holds the caps of the current quarter."""

    newest: date  # first day of the newest publication recorded
    current_quarter: date  # first day of the quarter `today` is in

    @property
    def out_of_date(self) -> bool:
        """The current quarter's caps are not recorded: the newest older ones are applied meanwhile."""
        return self.newest < self.current_quarter


class UsuryTable(BaseModel):
    """Every recorded publication, oldest first; each stays in force until the next one starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quarter: Annotated[list[UsuryQuarter], Field(min_length=1)]

    @field_validator("quarter")
    @classmethod
    def _dates_increase(cls, quarters: list[UsuryQuarter]) -> list[UsuryQuarter]:
        """Refuse out-of-order or repeated dates: a typo there would silently apply the wrong caps."""
        for earlier, later in zip(quarters, quarters[1:]):
            if later.valid_from <= earlier.valid_from:
                raise ValueError(
                    f"valid_from dates must increase: {later.valid_from} comes after {earlier.valid_from}"
                )
        return quarters

    @classmethod
    def load(cls, path: Path | None = None) -> UsuryTable:
        """Read and validate the caps file (default: `usury_caps.toml` next to this module)."""
        source = path or DEFAULT_PATH
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as error:
            raise UsuryTableError(f"{source}: cannot read the usury caps file ({error})") from error
        try:
            # Decimal straight from the TOML text: a float would turn 23.49 into 23.489999…
            content = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as error:
            raise UsuryTableError(f"{source}: not valid TOML ({error})") from error
        try:
            return cls.model_validate(content)
        except ValidationError as error:
            raise UsuryTableError(f"{source}: invalid usury caps table\n{error}") from error

    def freshness(self, today: date) -> Freshness:
        """How the newest recorded publication compares with the quarter `today` is in."""
        return Freshness(newest=self.quarter[-1].valid_from, current_quarter=quarter_start(today))

    def cap_for(self, amount_cents: int, on: date) -> UsuryCap:
        """The cap in force on `on` (the day the credit is granted) for the band of `amount_cents`."""
        if amount_cents <= 0:
            raise ValueError(f"the credit amount must be positive, got {amount_cents} cents")
        in_force = [quarter for quarter in self.quarter if quarter.valid_from <= on]
        if not in_force:
            raise NoUsuryCapError(
                f"no usury cap recorded for {on}: the table starts on {self.quarter[0].valid_from}"
            )
        quarter = in_force[-1]
        band = _band_of(amount_cents)
        percent: Decimal = getattr(quarter.rates_percent, band)
        return UsuryCap(band=band, rate=percent / 100, valid_from=quarter.valid_from)


def _band_of(amount_cents: int) -> str:
    """The band of a credit amount; band limits are inclusive upper bounds (≤ 3,000 €, ≤ 6,000 €)."""
    if amount_cents <= _BAND_3000_LIMIT_CENTS:
        return BAND_UP_TO_3000
    if amount_cents <= _BAND_6000_LIMIT_CENTS:
        return BAND_3000_TO_6000
    return BAND_OVER_6000
