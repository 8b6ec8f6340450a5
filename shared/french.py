"""How amounts, dates, rates and stages read in French, for every message a person reads (pure)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.events.vocabulary import DelinquencyStage

NARROW_NBSP = "\u202f"  # between thousands and before % and €, as French typography wants

STAGES: dict[DelinquencyStage, str] = {
    DelinquencyStage.CURRENT: "à jour",
    DelinquencyStage.UP_TO_30_DAYS: "1 à 30 jours de retard",
    DelinquencyStage.UP_TO_60_DAYS: "31 à 60 jours de retard",
    DelinquencyStage.UP_TO_90_DAYS: "61 à 90 jours de retard",
    DelinquencyStage.OVER_90_DAYS: "plus de 90 jours de retard",
}


# The projects a personal microcredit funds, as people name them.
PURPOSES = {
    "vehicle": "Véhicule", "driving_licence": "Permis de conduire", "housing": "Logement", "training": "Formation",
    "health": "Santé", "family_event": "Événement familial",
}


def euros(cents: int) -> str:
    """1234567 → "12 345,67 €" (narrow no-break space between thousands, decimal comma, − for a debt)."""
    sign = "−" if cents < 0 else ""
    whole = f"{abs(cents) // 100:,}".replace(",", NARROW_NBSP)
    return f"{sign}{whole},{abs(cents) % 100:02d} €"


def day(value: date) -> str:
    """2026-04-05 → "05/04/2026"."""
    return f"{value:%d/%m/%Y}"


def moment(value: datetime, zone: ZoneInfo) -> str:
    """An instant in the association's time zone: "06/04/2026 à 10:30"."""
    local = value.astimezone(zone)
    return f"{local:%d/%m/%Y} à {local:%H:%M}"


def rate(value: Decimal) -> str:
    """A rate as written in an offer: 0.035 → "3,5 %" (as many decimals as it has, no more)."""
    percent = (value * 100).normalize()
    return f"{percent:f}".replace(".", ",") + " %"


def percent(fraction: Decimal, places: int = 2) -> str:
    """A computed share with fixed decimals: 0.3456 → "34,56 %"."""
    return f"{fraction * 100:.{places}f} %".replace(".", ",")


def stage(value: str) -> str:
    """A delinquency stage in words."""
    try:
        return STAGES[DelinquencyStage(value)]
    except ValueError:
        return value
