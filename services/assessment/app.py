"""Assessment service assembly: its routes, its consumers, its overdue timer and its usury-table gauge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.assessment import handlers, usecases
from services.assessment.api import router
from services.assessment.settings import AssessmentSettings
from shared import events
from shared.clock import Clock
from shared.runtime import ServiceContext, ServiceDefinition
from shared.timers import Timer
from shared.usury import UsuryTable

USURY_GAUGE = "microcredit_usury_table_out_of_date"
NEWEST_QUARTER_GAUGE = "microcredit_usury_newest_quarter"


def quarter_number(day: date) -> float:
    """The quarter `day` is in as one number, year plus quarter tenths: 2026-10-01 → 2026.4."""
    return day.year + ((day.month - 1) // 3 + 1) / 10


class UsuryTableFreshness(Collector):
    """1 while the usury table lacks the current quarter's caps (older ones are applied meanwhile), else 0.

    Read at each scrape with the service clock, so it turns to 1 on the first day of a quarter the
    table does not hold, without waiting for a file or a timer.
    """

    def __init__(self, table: UsuryTable, clock: Clock) -> None:
        self._table, self._clock = table, clock

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The gauges' names and help, without reading the clock."""
        yield GaugeMetricFamily(USURY_GAUGE, self._help())
        yield GaugeMetricFamily(NEWEST_QUARTER_GAUGE, self._newest_help())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges' values now."""
        freshness = self._table.freshness(self._clock.today())
        yield GaugeMetricFamily(USURY_GAUGE, self._help(), value=int(freshness.out_of_date))
        yield GaugeMetricFamily(NEWEST_QUARTER_GAUGE, self._newest_help(), value=quarter_number(freshness.newest))

    @staticmethod
    def _newest_help() -> str:
        return "The newest quarter of usury caps recorded (in force until a newer one is added), e.g. 2026.4."

    @staticmethod
    def _help() -> str:
        return "1 when the usury caps of the current quarter are not recorded and older ones are applied."


def _start(ctx: ServiceContext[AssessmentSettings]) -> None:
    # Read the caps file now: a broken one stops the service at start, not at the first file.
    ctx.registry.register(UsuryTableFreshness(ctx.settings.usury_table(), ctx.clock))
    handlers.register(ctx)


DEFINITION = ServiceDefinition(
    name="assessment",
    title="Microcredit assessment",
    description="Budget diagnostic and checks, counsellor review, routing to a partner bank and the bank's decision.",
    schema="assessment",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=AssessmentSettings,
    register_consumers=_start,
    publishes=(
        events.ApplicationAssessed,
        events.ApplicationRouted,
        events.BankDecisionOverdue,
        events.LoanApproved,
        events.LoanDeclined,
    ),
    timers=(
        Timer(
            name="bank_decision_overdue",
            interval=lambda settings: settings.timer_interval_seconds,
            run=usecases.raise_overdue_bank_decisions,
            report=usecases.OverdueRun,
        ),
    ),
)

create_app = DEFINITION.create_app
