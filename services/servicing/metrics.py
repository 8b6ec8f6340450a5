"""Servicing's own Prometheus metrics: what the close of business did, for ops dashboards and alerts.

Registered in the service's registry (`ctx.registry`, its `/metrics`) when the service starts; the use
case reports to them through `usecases.CobObserver`, so neither the domain nor the use cases read a
registry. The counters move as each chunk commits: an interrupted run's work is counted, and the pass
that resumes it counts only its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.servicing import domain

_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, CloseOfBusinessMetrics] = WeakKeyDictionary()


def day_timestamp(day: date) -> float:
    """A business date as the Unix time of its midnight UTC (dashboards read it as a date)."""
    return datetime.combine(day, time.min, UTC).timestamp()


@dataclass(frozen=True)
class CloseOfBusinessMetrics:
    """Runs finished, what they changed, and the last finished run's date, length and end."""

    runs: Counter
    loans_visited: Counter
    missed_instalments: Counter
    stage_changes: Counter
    written_off: Counter
    last_run_duration: Gauge
    last_run_loans_visited: Gauge
    last_run_finished: Gauge
    last_business_date: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> CloseOfBusinessMetrics:
        """Create the metrics in `registry`; `of(registry)` finds them again."""
        metrics = cls(
            runs=Counter("microcredit_cob_runs", "Close-of-business runs finished (a repeated or resumed pass counts).", registry=registry),
            loans_visited=Counter(
                "microcredit_cob_loans_visited", "Loans the close of business visited, counted as each chunk commits.", registry=registry
            ),
            missed_instalments=Counter(
                "microcredit_cob_missed_instalments", "Instalments the close of business found missed (payment missed).", registry=registry
            ),
            stage_changes=Counter(
                "microcredit_cob_stage_changes", "Delinquency stage changes the close of business made.", registry=registry
            ),
            written_off=Counter(
                "microcredit_cob_write_offs", "Loans the close of business wrote off (FCS guarantee claims).", registry=registry
            ),
            last_run_duration=Gauge(
                "microcredit_cob_last_run_duration_seconds", "How long the last finished close-of-business pass took.", registry=registry
            ),
            last_run_loans_visited=Gauge(
                "microcredit_cob_last_run_loans_visited", "Loans the last finished close-of-business pass visited.", registry=registry
            ),
            last_run_finished=Gauge(
                "microcredit_cob_last_run_finished_timestamp_seconds",
                "When the last close-of-business pass finished (Unix time, service clock).", registry=registry,
            ),
            last_business_date=Gauge(
                "microcredit_cob_last_business_date_timestamp_seconds",
                "Business date of the last finished close of business, as the Unix time of its midnight UTC.", registry=registry,
            ),
        )
        _BY_REGISTRY[registry] = metrics
        return metrics

    @classmethod
    def of(cls, registry: CollectorRegistry) -> CloseOfBusinessMetrics | None:
        """The metrics registered in `registry`, if any."""
        return _BY_REGISTRY.get(registry)

    # --- usecases.CobObserver ----------------------------------------------------------------------

    def chunk_committed(self, done: domain.ChunkDone) -> None:
        """A chunk's transaction committed: what it changed."""
        self.loans_visited.inc(done.loans)
        self.missed_instalments.inc(done.missed)
        self.stage_changes.inc(done.stage_changes)
        self.written_off.inc(done.written_off)

    def run_finished(self, run: domain.CloseOfBusinessRun, *, seconds: float, finished_at: datetime) -> None:
        """A pass finished (its counts were reported chunk by chunk)."""
        self.runs.inc()
        self.last_run_duration.set(seconds)
        self.last_run_loans_visited.set(run.loans_visited)
        self.last_run_finished.set(finished_at.timestamp())
        self.last_business_date.set(day_timestamp(run.business_date))
