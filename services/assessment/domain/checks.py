"""Eligibility checks of a file (pure): each has a result and a reason; failed ones may be overridden.

- `remaining_per_unit`: reste à vivre per consumption unit after the instalment ≥ the network's minimum;
- `instalment_share`: instalment ÷ resources ≤ the network's maximum;
- `usury_cap`: the TAEG of the proposed loan ≤ the usury cap of its amount band on the day (the law:
  Code de la consommation L.314-6, never overridable);
- `ficp`: the FICP register was consulted (L.312-16) and the applicant is not registered in it;
- `purpose`: the purpose serves social or professional insertion.

The reasons are written for the counsellor, in French.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.errors import BusinessRuleError
from shared.events import BudgetDiagnostic, CheckResult
from shared.events.vocabulary import Purpose
from shared.french import PURPOSES, day, euros, percent
from shared.loanmath import add_months, taeg_of_loan
from shared.usury import BAND_3000_TO_6000, BAND_OVER_6000, BAND_UP_TO_3000, Freshness, NoUsuryCapError, UsuryTable

USURY_LAW = "Code de la consommation L.314-6"
BAND_LABELS = {
    BAND_UP_TO_3000: "jusqu'à 3\u202f000 €",
    BAND_3000_TO_6000: "de 3\u202f000 € à 6\u202f000 €",
    BAND_OVER_6000: "au-delà de 6\u202f000 €",
}


class CheckName(StrEnum):
    """The checks every file goes through."""

    REMAINING_PER_UNIT = "remaining_per_unit"
    INSTALMENT_SHARE = "instalment_share"
    USURY_CAP = "usury_cap"
    FICP = "ficp"
    PURPOSE = "purpose"


NOT_OVERRIDABLE = frozenset({CheckName.USURY_CAP})


@dataclass(frozen=True)
class Thresholds:
    """Affordability thresholds of an association network."""

    min_remaining_per_unit_cents: int
    max_instalment_share: Decimal


class FicpResult(StrEnum):
    """What the FICP consultation found."""

    NOT_REGISTERED = "not_registered"
    REGISTERED = "registered"


class FicpConsultation(BaseModel):
    """A recorded consultation of the Banque de France's FICP register."""

    model_config = ConfigDict(frozen=True)

    consulted_on: date
    result: FicpResult
    reference: str | None = None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class LoanTerms:
    """The terms the checks are run on: requested ones until the counsellor proposes others."""

    amount_cents: int
    duration_months: int
    annual_rate: Decimal


def _remaining_per_unit(diagnostic: BudgetDiagnostic, thresholds: Thresholds) -> CheckResult:
    per_unit = diagnostic.remaining_after_instalment_per_unit_cents or 0
    minimum = thresholds.min_remaining_per_unit_cents
    passed = per_unit >= minimum
    relation = "pour un minimum de" if passed else "sous le minimum de"
    return CheckResult(
        name=CheckName.REMAINING_PER_UNIT,
        passed=passed,
        reason=(
            f"Reste à vivre après échéance : {euros(per_unit)} par unité de consommation, {relation} {euros(minimum)}."
        ),
    )


def _instalment_share(diagnostic: BudgetDiagnostic, thresholds: Thresholds) -> CheckResult:
    share, maximum = diagnostic.instalment_share, thresholds.max_instalment_share
    if share is None:
        return CheckResult(
            name=CheckName.INSTALMENT_SHARE,
            passed=False,
            reason="Aucune ressource déclarée : l'échéance ne peut être rapportée aux ressources.",
        )
    passed = share <= maximum
    relation = "pour un maximum de" if passed else "au-delà du maximum de"
    return CheckResult(
        name=CheckName.INSTALMENT_SHARE,
        passed=passed,
        reason=(
            f"L'échéance de {euros(diagnostic.monthly_instalment_cents)} représente {percent(share)} des ressources, "
            f"{relation} {percent(maximum)}."
        ),
    )


def usury_check(terms: LoanTerms, usury: UsuryTable, on: date) -> CheckResult:
    """TAEG of the terms (disbursed on `on`, first instalment a month later) against the cap in force on `on`."""
    try:
        cap = usury.cap_for(terms.amount_cents, on)
    except NoUsuryCapError as missing:
        return CheckResult(name=CheckName.USURY_CAP, passed=False, reason=f"Taux d'usure inconnu : {missing}.")
    taeg = taeg_of_loan(terms.amount_cents, terms.annual_rate, terms.duration_months, on, add_months(on, 1))
    passed = taeg <= cap.rate
    relation = "sous le" if passed else "au-dessus du"
    return CheckResult(
        name=CheckName.USURY_CAP,
        passed=passed,
        reason=(
            f"TAEG {percent(taeg, 4)} {relation} taux d'usure de {percent(cap.rate)} "
            f"(tranche {BAND_LABELS.get(cap.band, cap.band)}, en vigueur depuis le {day(cap.valid_from)})."
        ),
    )


def usury_table_warnings(freshness: Freshness) -> list[str]:
    """What the counsellor must know when the table lacks the current quarter's caps: older ones are applied."""
    if not freshness.out_of_date:
        return []
    newest, current = day(freshness.newest), day(freshness.current_quarter)
    return [
        f"Taux d'usure : la table s'arrête au trimestre du {newest} ; les taux du trimestre du {current}"
        f" ne sont pas enregistrés, ceux du {newest} sont appliqués."
    ]


def _ficp(consultation: FicpConsultation | None) -> CheckResult:
    if consultation is None:
        return CheckResult(name=CheckName.FICP, passed=False, reason="Le FICP n'a pas encore été consulté.")
    registered = consultation.result is FicpResult.REGISTERED
    return CheckResult(
        name=CheckName.FICP,
        passed=not registered,
        reason=f"FICP consulté le {day(consultation.consulted_on)} : {'inscrit' if registered else 'non inscrit'}.",
    )


def _purpose(purpose: str) -> CheckResult:
    eligible = purpose in set(Purpose)
    reason = (
        f"Projet « {PURPOSES.get(purpose, purpose)} » : insertion sociale ou professionnelle."
        if eligible
        else f"Projet « {purpose} » : ni consommation courante ni rachat de dettes ne sont financés."
    )
    return CheckResult(name=CheckName.PURPOSE, passed=eligible, reason=reason)


def evaluate(
    diagnostic: BudgetDiagnostic,
    terms: LoanTerms,
    *,
    purpose: str,
    ficp: FicpConsultation | None,
    thresholds: Thresholds,
    usury: UsuryTable,
    on: date,
) -> list[CheckResult]:
    """Every check of the file for `terms`, whose diagnostic is `diagnostic`, on the day `on`."""
    return [
        _remaining_per_unit(diagnostic, thresholds),
        _instalment_share(diagnostic, thresholds),
        usury_check(terms, usury, on),
        _ficp(ficp),
        _purpose(purpose),
    ]


def override(checks: list[CheckResult], justifications: Mapping[CheckName, str]) -> list[CheckResult]:
    """The checks with the failed ones the counsellor overrides, each with its written justification."""
    by_name = {check.name: check for check in checks}
    for name, justification in justifications.items():
        field = f"overrides.{name.value}"
        if name in NOT_OVERRIDABLE:
            raise BusinessRuleError(
                f"the usury cap cannot be overridden: a loan whose TAEG exceeds it is usurious ({USURY_LAW}); "
                "lower the rate or change the amount",
                field=field,
                rule="not_overridable",
                status=422,
            )
        if not justification.strip():
            raise BusinessRuleError(
                f"overriding {name.value} needs a written justification",
                field=field, rule="justification_required", status=422,
            )
        if by_name[name].passed:
            raise BusinessRuleError(
                f"the {name.value} check passed: there is nothing to override", field=field, rule="not_failed", status=422
            )
        by_name[name] = by_name[name].model_copy(update={"overridden": True, "justification": justification.strip()})
    return [by_name[check.name] for check in checks]


def unresolved(checks: list[CheckResult]) -> list[CheckResult]:
    """Checks that failed and were not overridden: they stop the routing to a bank."""
    return [check for check in checks if not check.passed and not check.overridden]
