"""Reading what a person typed into a form: French amounts and numbers, dates, empty fields.

A value the workspace cannot even read (« douze » for a number) is refused here, next to its field, before any
service is called: nothing is saved. What it can read goes to the service, whose rules decide; their refusals
come back through `problems.field_errors` next to the same fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

_SPACES = re.compile(r"[\s\u00a0\u202f]")


@dataclass
class Reading:
    """The values read from a form, and a sentence per field the workspace could not read."""

    form: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """The field's text, trimmed; None when left empty."""
        value = self.form.get(name, "").strip()
        return value or None

    def cents(self, name: str) -> int | None:
        """`1 250,50` (or `1250.5`, `1 250 €`) → 125050 cents; None when empty."""
        value = self.text(name)
        if value is None:
            return None
        cleaned = _SPACES.sub("", value).removesuffix("€").replace(",", ".")
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")) or amount < 0:
            self.errors[name] = "Indiquez un montant en euros, par exemple 1 250,50."
            return None
        return int(amount * 100)

    def whole(self, name: str) -> int | None:
        """A whole number (`36`); None when empty."""
        value = self.text(name)
        if value is None:
            return None
        if not _SPACES.sub("", value).isdigit():
            self.errors[name] = "Indiquez un nombre entier, par exemple 36."
            return None
        return int(_SPACES.sub("", value))

    def day(self, name: str) -> str | None:
        """A date as the browser's date field sends it (`2026-11-30`) or typed `30/11/2026`; None when empty."""
        value = self.text(name)
        if value is None:
            return None
        try:
            if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value):
                d, m, y = (int(part) for part in value.split("/"))
                return date(y, m, d).isoformat()
            return date.fromisoformat(value).isoformat()
        except ValueError:
            self.errors[name] = "Indiquez une date, par exemple 30/11/2026."
            return None

    def rate(self, name: str) -> str | None:
        """A yearly rate typed in percent (`3,5`) → `"0.035"`; None when empty."""
        value = self.text(name)
        if value is None:
            return None
        try:
            percent = Decimal(_SPACES.sub("", value).removesuffix("%").replace(",", "."))
        except InvalidOperation:
            self.errors[name] = "Indiquez un taux en pourcentage, par exemple 3,5."
            return None
        if not percent.is_finite() or percent < 0:
            self.errors[name] = "Indiquez un taux en pourcentage, par exemple 3,5."
            return None
        return str((percent / 100).normalize())

    def flag(self, name: str) -> bool:
        """A checkbox: ticked or not."""
        return name in self.form


def compact(value: Any) -> Any:
    """The body without the parts left empty (None, {}, []), so a service sees only what was typed."""
    if isinstance(value, dict):
        kept = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    return value


def euros_typed(cents: int | None) -> str:
    """An amount as a person would type it back into a field (`1250,50`); empty when unknown."""
    if cents is None:
        return ""
    whole, rest = divmod(int(cents), 100)
    return f"{whole},{rest:02d}"
