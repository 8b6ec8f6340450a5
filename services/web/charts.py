"""The loan's chart, drawn on the server as SVG (no script): per instalment, what was paid and what is left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

WIDTH, HEIGHT, AXIS = 720, 220, 24


@dataclass(frozen=True)
class Bar:
    """One instalment's column: its whole height is the instalment, its dark part what was paid."""

    x: float
    width: float
    due_y: float
    due_height: float
    paid_y: float
    paid_height: float
    missed: bool
    label: str


@dataclass(frozen=True)
class LoanChart:
    """The columns, and the sentence a screen reader reads instead."""

    bars: list[Bar]
    width: int
    height: int
    summary: str


def loan_chart(schedule: list[dict[str, Any]], today: date, euros: Any) -> LoanChart:
    """Columns for each line of the schedule; `euros` formats cents for the summary."""
    lines = sorted(schedule, key=lambda line: line["number"])
    tallest = max((int(line["amount_cents"]) for line in lines), default=1) or 1
    step = (WIDTH - 8) / max(len(lines), 1)
    usable = HEIGHT - AXIS
    bars = []
    for i, line in enumerate(lines):
        due = int(line["amount_cents"])
        paid = min(int(line.get("paid_cents", 0)), due)
        due_height = usable * due / tallest
        paid_height = usable * paid / tallest
        overdue = date.fromisoformat(str(line["due_date"])) < today and paid < due
        bars.append(Bar(
            x=round(4 + i * step + step * 0.15, 1), width=round(step * 0.7, 1),
            due_y=round(usable - due_height, 1), due_height=round(due_height, 1),
            paid_y=round(usable - paid_height, 1), paid_height=round(paid_height, 1),
            missed=bool(line.get("missed_on")) or overdue, label=str(line["number"]),
        ))
    total = sum(int(line["amount_cents"]) for line in lines)
    paid_total = sum(min(int(line.get("paid_cents", 0)), int(line["amount_cents"])) for line in lines)
    missed = sum(1 for bar in bars if bar.missed)
    summary = (
        f"{len(lines)} échéances : {euros(paid_total)} payés sur {euros(total)}, reste {euros(total - paid_total)} ; "
        + (f"{missed} échéance{'s' if missed > 1 else ''} impayée{'s' if missed > 1 else ''}." if missed else "aucune échéance impayée.")
    )
    return LoanChart(bars, WIDTH, HEIGHT, summary)


# The associations' funnel, step by step: each step's field in intake's funnel and its name on screen.
FUNNEL_STEPS = (
    ("first_contacts", "Premiers contacts"), ("appointments", "Rendez-vous fixés"), ("opened", "Dossiers ouverts"),
    ("submitted", "Dossiers transmis"), ("routed", "Transmis à une banque"), ("approved", "Prêts accordés"),
)
FUNNEL_WIDTH, FUNNEL_ROW, FUNNEL_LABEL = 720, 34, 210


@dataclass(frozen=True)
class FunnelBar:
    """One step of the funnel: its bar, its count, and its share of the first step."""

    y: float
    width: float
    label: str
    count: int
    share: str


@dataclass(frozen=True)
class FunnelChart:
    """The horizontal bars, and the sentence a screen reader reads instead."""

    bars: list[FunnelBar]
    width: int
    height: int
    label_width: int
    summary: str


def funnel_chart(counts: dict[str, Any]) -> FunnelChart:
    """A bar per step, as long as its count against the largest step."""
    values = [(label, int(counts.get(field, 0) or 0)) for field, label in FUNNEL_STEPS]
    largest = max((count for _, count in values), default=0) or 1
    first = values[0][1]
    usable = FUNNEL_WIDTH - FUNNEL_LABEL - 60
    bars = [
        FunnelBar(
            y=i * FUNNEL_ROW + 4, width=round(usable * count / largest, 1), label=label, count=count,
            share=f"{round(100 * count / first)} %" if first else "—",
        )
        for i, (label, count) in enumerate(values)
    ]
    summary = " ; ".join(f"{label} : {count}" for label, count in values) + "."
    return FunnelChart(bars, FUNNEL_WIDTH, len(values) * FUNNEL_ROW + 8, FUNNEL_LABEL, summary)
