"""The budget diagnostic (pure): resources, charges and reste à vivre, per month and per consumption unit.

All amounts are monthly, in integer euro cents; ratios are `Decimal`, never floats.

    R   resources         Σ of the resources by kind, or the file's total when it gives no breakdown
    C   charges           Σ of the charges by kind, or the file's total when it gives no breakdown
    RAV reste à vivre     R − C
    UC  consumption units modified OECD scale: 1 for the first adult
                          + 0.5 for each other person aged 14 or more (adults and older children)
                          + 0.3 for each child under 14
    M   instalment        shared.loanmath.monthly_instalment(amount, annual rate, months): the same
                          arithmetic servicing uses for the schedule
    RAV per unit                      RAV / UC
    RAV after the instalment          RAV − M
    RAV after the instalment per unit (RAV − M) / UC
    instalment share                  M / R (none when R = 0)

Rounding: per-unit amounts are rounded to the cent half up (`shared.money.round_cents`: a half cent goes away
from zero, so 0.5 → 1 and −0.5 → −1); the instalment share to 4 decimal places (0.01 %) half up.
The checks compare these rounded figures: what the counsellor reads is what was checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from shared.events import BudgetDiagnostic, Household
from shared.loanmath import monthly_instalment
from shared.money import round_cents

ADULT_AGE = 14  # the OECD scale counts a person of 14 or more like an adult
FIRST_ADULT_UNITS = Decimal(1)
OTHER_PERSON_UNITS = Decimal("0.5")
YOUNG_CHILD_UNITS = Decimal("0.3")
SHARE_QUANTUM = Decimal("0.0001")
ONE_ADULT = Household(adults=1)


def consumption_units(household: Household | None) -> Decimal:
    """Modified OECD scale: 1 + 0.5 per other person aged 14 or more + 0.3 per child under 14."""
    home = household or ONE_ADULT
    older_children = sum(1 for age in home.children_ages if age >= ADULT_AGE)
    young_children = len(home.children_ages) - older_children
    return (
        FIRST_ADULT_UNITS
        + OTHER_PERSON_UNITS * (home.adults - 1 + older_children)
        + YOUNG_CHILD_UNITS * young_children
    )


def total(by_kind: Mapping[str, int] | None, declared_total_cents: int) -> int:
    """The total of a breakdown by kind; the declared total when the file gives no breakdown."""
    return sum(by_kind.values()) if by_kind else declared_total_cents


def diagnose(
    resources_cents: int,
    charges_cents: int,
    household: Household | None,
    amount_cents: int,
    months: int,
    annual_rate: Decimal,
) -> BudgetDiagnostic:
    """The budget diagnostic of a loan of `amount_cents` over `months` at `annual_rate` (see the module doc)."""
    units = consumption_units(household)
    instalment = monthly_instalment(amount_cents, annual_rate, months)
    remaining = resources_cents - charges_cents
    remaining_after = remaining - instalment
    share = (Decimal(instalment) / resources_cents).quantize(SHARE_QUANTUM, ROUND_HALF_UP) if resources_cents else None
    return BudgetDiagnostic(
        monthly_resources_cents=resources_cents,
        monthly_charges_cents=charges_cents,
        monthly_instalment_cents=instalment,
        remaining_after_instalment_cents=remaining_after,
        remaining_cents=remaining,
        consumption_units=units,
        remaining_per_unit_cents=round_cents(remaining / units),
        remaining_after_instalment_per_unit_cents=round_cents(remaining_after / units),
        instalment_share=share,
    )
