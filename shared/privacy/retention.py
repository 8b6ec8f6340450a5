"""The dated retention rules of `deploy/privacy/retention.toml`: which entry of each rule is in force on a day, and when it ends.

Pure: no I/O beyond reading the file once. The privacy service's daily job applies them; the information notice
and the register of processing activities print their legal reasons.
"""

from __future__ import annotations

import re
import tomllib
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

RETENTION_RULES = Path(__file__).resolve().parents[2] / "deploy" / "privacy" / "retention.toml"
_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class RetentionRule:
    """One dated entry of a rule: what it applies to, how long from what, then what, and why (in French)."""

    id: str
    since: date
    applies_to: str
    starts_from: str
    keep: str  # an ISO 8601 period (P6M, P5Y, P0D) or, for `then = "keep"`, a sentence
    then: str  # erase | anonymise | keep | pseudonymise
    legal_reason: str

    def ends_on(self, start: date) -> date | None:
        """The first day the data may no longer be kept, counted from `start`; None when the rule keeps it."""
        match = _PERIOD.match(self.keep)
        if self.then == "keep" or match is None:
            return None
        years, months, days = (int(g or 0) for g in match.groups())
        total = start.year * 12 + start.month - 1 + years * 12 + months
        year, month = divmod(total, 12)
        day = min(start.day, monthrange(year, month + 1)[1])
        return date(year, month + 1, day) + timedelta(days=days)


def load_rules(path: Path = RETENTION_RULES) -> tuple[RetentionRule, ...]:
    """Every dated entry of the file, as written."""
    raw = tomllib.loads(path.read_text())
    return tuple(
        RetentionRule(
            id=r["id"], since=r["since"], applies_to=r["applies_to"], starts_from=r["from"], keep=r["keep"],
            then=r["then"], legal_reason=" ".join(r["legal_reason"].split()),
        )
        for r in raw["rule"]
    )


def in_force(rules: tuple[RetentionRule, ...], day: date) -> dict[str, RetentionRule]:
    """For each rule id, the entry in force on `day`: the latest `since` not after it (a rule not yet in force is absent)."""
    chosen: dict[str, RetentionRule] = {}
    for rule in sorted(rules, key=lambda r: r.since):
        if rule.since <= day:
            chosen[rule.id] = rule
    return chosen


def reasons(rules: tuple[RetentionRule, ...], day: date) -> dict[str, RetentionRule]:
    """The entry of each rule to explain a decision on `day`: the one in force, else the first one written (the law
    it cites applied before the platform wrote it down)."""
    first = {r.id: r for r in sorted(rules, key=lambda r: r.since, reverse=True)}
    return {**first, **in_force(rules, day)}
