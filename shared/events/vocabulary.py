"""The shared vocabulary of the contracts: kinds of resources and charges, purposes, referral sources."""

from __future__ import annotations

from enum import StrEnum


class ResourceKind(StrEnum):
    """Monthly resources as a counsellor records them."""

    SALARY = "salary"
    UNEMPLOYMENT_BENEFIT = "unemployment_benefit"
    RSA = "rsa"
    FAMILY_ALLOWANCES = "family_allowances"
    PENSION = "pension"
    DISABILITY_ALLOWANCE = "disability_allowance"
    OTHER = "other"


class ChargeKind(StrEnum):
    """Monthly fixed charges."""

    RENT = "rent"
    ENERGY = "energy"
    WATER = "water"
    INSURANCE = "insurance"
    TELEPHONE = "telephone"
    TRANSPORT = "transport"
    CHILD_CARE = "child_care"
    LOAN_REPAYMENTS = "loan_repayments"
    OTHER = "other"


class Purpose(StrEnum):
    """Purposes that serve social or professional insertion (everyday consumption and debts are not ones)."""

    VEHICLE = "vehicle"
    DRIVING_LICENCE = "driving_licence"
    HOUSING = "housing"
    TRAINING = "training"
    HEALTH = "health"
    FAMILY_EVENT = "family_event"


class ReferralSource(StrEnum):
    """Who sent the person to the association."""

    BANQUE_DE_FRANCE = "banque_de_france"
    POINT_CONSEIL_BUDGET = "point_conseil_budget"
    CCAS = "ccas"
    SOCIAL_WORKER = "social_worker"
    SELF = "self"
    OTHER = "other"


class DelinquencyStage(StrEnum):
    """How far behind a loan is, in days past its oldest unpaid instalment (bounds included)."""

    CURRENT = "current"
    UP_TO_30_DAYS = "1-30"
    UP_TO_60_DAYS = "31-60"
    UP_TO_90_DAYS = "61-90"
    OVER_90_DAYS = "90+"

    @classmethod
    def of(cls, days_past_due: int) -> DelinquencyStage:
        """The stage of a loan `days_past_due` days behind."""
        return next((stage for bound, stage in STAGE_BOUNDS if days_past_due <= bound), cls.OVER_90_DAYS)


# Upper bound (days past due, inclusive) of each stage but the last, in order.
STAGE_BOUNDS: tuple[tuple[int, DelinquencyStage], ...] = (
    (0, DelinquencyStage.CURRENT),
    (30, DelinquencyStage.UP_TO_30_DAYS),
    (60, DelinquencyStage.UP_TO_60_DAYS),
    (90, DelinquencyStage.UP_TO_90_DAYS),
)
