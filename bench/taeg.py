"""The TAEG solver's cost per loan, as assessment's usury check pays it: `python -m bench.taeg`.

Computes the TAEG of a fixed sample of microcredit terms (300–8,000 €, 0–20 %, 6–84 months, disbursed
on any day, first instalment a month later; one in four with a longer first period) with
`shared.loanmath.taeg_of_loan`, and prints the time per loan beside what no TAEG of a loan can go
below, measured in the same run: building the loan's schedule and its flows' year fractions (the
solver's input), and the raw cost of one Decimal `exp` per flow at the solver's precision (what one
evaluation of the equation cost when each discount factor was its own `exp`).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

from shared.loanmath import (
    add_months,
    amortisation_schedule,
    effective_annual_rate,
    schedule_cash_flows,
    taeg_of_loan,
    year_fraction,
)

Terms = tuple[int, Decimal, int, date, date]


def sample(count: int, seed: int) -> list[Terms]:
    """`count` loans' terms (amount cents, nominal rate, months, disbursed on, first due date)."""
    rng = random.Random(seed)
    loans = []
    for _ in range(count):
        on = date(2025, 1, 1) + timedelta(days=rng.randrange(730))
        first_due = add_months(on, 1) + timedelta(days=rng.randrange(1, 25) if rng.random() < 0.25 else 0)
        loans.append((rng.randrange(300_00, 8_000_01), Decimal(rng.randrange(0, 200_001)).scaleb(-6), rng.randrange(6, 85), on, first_due))
    return loans


def per_call(work: Callable[[Any], object], inputs: list[Any], repeat: int) -> float:
    """The best of `repeat` passes over `inputs`, in microseconds per input."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for item in inputs:
            work(item)
        best = min(best, time.perf_counter() - started)
    return best / len(inputs) * 1e6


def main(argv: list[str] | None = None) -> int:
    """Time the TAEG of the sample and print it beside its floor."""
    parser = argparse.ArgumentParser(prog="python -m bench.taeg", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=300, help="loans in the sample (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the sample; the best is kept (default 3)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    loans = sample(args.loans, args.seed)
    flows = [schedule_cash_flows(t[0], t[3], amortisation_schedule(t[0], t[1], t[2], t[4])) for t in loans]
    lines = sum(len(f) for f in flows) / len(flows)

    def inputs_only(terms: Terms) -> None:
        principal, rate, months, on, first_due = terms
        for day, _ in schedule_cash_flows(principal, on, amortisation_schedule(principal, rate, months, first_due)):
            year_fraction(on, day)

    def one_exp_per_flow(loan_flows: list[tuple[date, int]]) -> None:
        with localcontext() as context:
            context.prec = 40
            log_growth = Decimal("1.035").ln()
            for _ in loan_flows:
                (-Decimal("1.5") * log_growth).exp()

    # Solved each time (the function behind its cache), then as the usury check finds it once kept.
    taeg = per_call(lambda t: taeg_of_loan.__wrapped__(*t), loans, args.repeat)
    taeg_of_loan.cache_clear()
    for terms in loans:
        taeg_of_loan(*terms)
    kept = per_call(lambda t: taeg_of_loan(*t), loans, args.repeat)
    solve = per_call(effective_annual_rate, flows, args.repeat)
    floor = per_call(inputs_only, loans, args.repeat)
    exps = per_call(one_exp_per_flow, flows, args.repeat)
    print(f"TAEG benchmark — {len(loans)} loans, {lines:.1f} flows each on average (best of {args.repeat} passes)")
    print(f"taeg_of_loan            {taeg:9,.0f} µs per loan ({1e6 / taeg:,.0f} loans/s), solved each time")
    print(f"  of which the solver   {solve:9,.0f} µs (effective_annual_rate on the flows, year fractions included)")
    print(f"  terms already kept    {kept:9,.2f} µs (found in its cache of the last 4,096 terms asked)")
    print(f"floor: schedule + years {floor:9,.0f} µs per loan (the solver's input, no solving)")
    print(f"raw: one Decimal exp    {exps:9,.0f} µs per loan (one exp per flow at 40 digits: one evaluation of the equation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
