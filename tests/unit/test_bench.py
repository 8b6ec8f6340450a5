"""The benchmarks stay runnable and their arithmetic right (they run on purpose, never in the suite)."""

from __future__ import annotations

import importlib

import pytest

from aiokafka import TopicPartition

from bench.drain import passed
from bench import phases
from bench.flow_report import PHASE_HEADERS, phase_rows, latency_figures, percentile, table
from bench.processes import cpu_budget, machine_busy_seconds
from bench.hops import Seen, hop_figures, pair, seen
from bench.fanout import DRIVER, JOURNEY, consumer_groups, hops
from bench.lone_events import BARE, net_per_event, render
from deploy.local.journey import Journey
from bench.portfolio import DURATIONS, max_duration, picks, templates


@pytest.mark.unit
@pytest.mark.parametrize("module", ["bench.flow", "bench.close_of_business", "bench.web", "bench.drain", "bench.http", "bench.taeg", "bench.sealing", "bench.lone_events", "bench.fanout"])
def test_the_benchmark_command_loads_and_lists_its_options(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Importing the command is what breaks when the service code it drives moves.
    main = importlib.import_module(module).main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])

    assert exit_.value.code == 0
    assert f"python -m {module}" in capsys.readouterr().out


@pytest.mark.unit
def test_the_portfolio_has_the_648_schedule_templates_the_readme_reports() -> None:
    catalogue = templates()

    assert len(catalogue) == 648
    assert all(months <= max_duration(cents // 100) and months in DURATIONS for _, cents, _, months in catalogue)


@pytest.mark.unit
def test_the_same_seed_draws_the_same_portfolio() -> None:
    catalogue = templates()

    assert picks(catalogue, 2026) == picks(catalogue, 2026)
    assert picks(catalogue, 2026) != picks(catalogue, 2027)


@pytest.mark.unit
def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([0.4, 0.1, 0.3, 0.2], 50) == pytest.approx(0.25)
    assert percentile([0.4, 0.1, 0.3, 0.2], 100) == 0.4
    assert percentile([], 95) is None


@pytest.mark.unit
def test_report_tables_align_the_first_column_left_and_figures_right() -> None:
    assert table(["step", "p50"], [["alert raised", 894.4], ["loan approved", None]]).splitlines() == [
        "  step             p50",
        "  alert raised   894.4",
        "  loan approved      -",
    ]


@pytest.mark.unit
def test_an_effect_is_paired_with_the_event_it_names_as_its_cause_and_timed_from_its_commit_and_from_kafka() -> None:
    disbursed = Seen("e1", "fr.microcredit.loan.disbursed.v1", committed_ms=1_000.0, kafka_ms=1_012)
    missed = Seen("e2", "fr.microcredit.payment.missed.v1", committed_ms=5_000.0, kafka_ms=5_030)
    alerts = [
        Seen("a1", "fr.microcredit.alert.raised.v1", committed_ms=1_020.0, kafka_ms=1_031, cause_id="e1"),
        Seen("a2", "fr.microcredit.alert.raised.v1", committed_ms=5_040.0, kafka_ms=5_055, cause_id="e2"),
        Seen("a3", "fr.microcredit.alert.escalated.v1", committed_ms=5_041.0, kafka_ms=5_060, cause_id="e2"),
        Seen("a4", "fr.microcredit.alert.raised.v1", committed_ms=9_000.0, kafka_ms=9_010, cause_id="before-the-window"),
    ]

    hops = pair([*alerts, disbursed, missed])

    assert hops == {
        "loan.disbursed → alert.raised": [(31.0, 19.0)],
        "payment.missed → alert.raised": [(55.0, 25.0)],
        "payment.missed → alert.escalated": [(60.0, 30.0)],
    }
    figures = hop_figures(hops)
    assert figures["loan.disbursed → alert.raised"] == {
        "count": 1, "from_commit": {"p50": 31.0, "p95": 31.0, "p99": 31.0, "max": 31.0},
        "from_kafka": {"p50": 19.0, "p95": 19.0, "p99": 19.0, "max": 19.0},
    }


@pytest.mark.unit
def test_a_record_is_read_as_an_event_with_its_envelope_time_and_cause_or_skipped() -> None:
    value = (b'{"id": "a1", "type": "fr.microcredit.alert.raised.v1", "time": "2026-03-02T08:30:00.250Z",'
             b' "data": {"cause_event_id": "e1"}}')

    assert seen(value, 1_772_440_200_300) == Seen("a1", "fr.microcredit.alert.raised.v1", 1_772_440_200_250.0, 1_772_440_200_300, "e1")
    assert seen(b"\xffVIR;8791", 0) is None


@pytest.mark.unit
def test_each_http_command_gets_its_own_percentiles() -> None:
    journeys = [Journey(f"app-{i}", steps={"application submitted": 0.1 * i, "alert raised": 0.2 * i}, calls={"submit": 0.010 * i, "FICP": 0.002})
                for i in range(1, 101)]

    figures = latency_figures(journeys)

    assert figures["calls"]["submit"] == {"p50": 505.0, "p95": 950.5, "p99": 990.1, "max": 1000.0}
    assert figures["calls"]["FICP"]["p99"] == 2.0
    assert figures["steps"]["application submitted"]["in_step"]["p99"] == pytest.approx(9901.0)


@pytest.mark.unit
def test_a_drain_is_over_when_the_group_committed_past_every_record_written() -> None:
    targets = {TopicPartition("microcredit.applications.v1", 0): 840, TopicPartition("microcredit.applications.v1", 3): 12}

    assert passed({TopicPartition("microcredit.applications.v1", 0): 840, TopicPartition("microcredit.applications.v1", 3): 13}, targets)
    assert not passed({TopicPartition("microcredit.applications.v1", 0): 839, TopicPartition("microcredit.applications.v1", 3): 13}, targets)
    assert not passed({TopicPartition("microcredit.applications.v1", 0): 900}, targets)


def test_the_cpu_budget_says_what_the_machines_cores_allow_per_journey(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    # 10 s of wall, 19 s of busy CPU on 2 cores, 200 journeys of 7 events each.
    budget = cpu_budget(19.0, 10.0, 200, 1400)
    assert budget == {
        "cores": 2, "busy_percent": 95.0, "cpu_ms_per_journey": 95.0,
        "journeys_per_second_at_most": 21.1, "events_per_second_at_most": 147.4,
    }
    assert cpu_budget(19.0, 10.0, 0, 0) is None
    assert machine_busy_seconds() > 0


@pytest.mark.unit
def test_a_lone_events_cost_is_the_cpu_beyond_the_processs_quiet_rate_and_each_service_is_set_beside_the_bare_consumer() -> None:
    # 2 s quiet then 4 s of 100 events: intake used 0.05 s quiet (so 0.1 s in 4 s) and 0.40 s with the events.
    processes = net_per_event(
        {"intake": 10.0, "kafka broker": 50.0, BARE: 1.0}, {"intake": 10.05, "kafka broker": 50.2, BARE: 1.0}, 2.0,
        {"intake": 10.1, "kafka broker": 50.3, BARE: 1.0}, {"intake": 10.5, "kafka broker": 50.9, BARE: 1.1}, 4.0, 100,
    )

    assert processes["intake"] == {"cpu_seconds": 0.4, "quiet_seconds": 0.1, "ms_per_event": 3.0}
    assert processes["kafka broker"]["ms_per_event"] == 2.0  # 0.6 s − 0.4 s quiet, over 100 events
    assert processes[BARE]["ms_per_event"] == 1.0
    report = render({"processes": processes, "services": ["intake"], "event": "loan.approved", "topic": "t", "events": 100,
                     "gap_ms": 30, "seconds": 4.0, "bare_consumer_records": 100, "load": "1.0 1.0 1.0"})
    intake_row = next(line for line in report.splitlines() if line.strip().startswith("intake"))
    kafka_row = next(line for line in report.splitlines() if line.strip().startswith("kafka broker"))
    assert intake_row.split()[-2:] == ["3.00", "3.0"]  # 3 ms per event, 3 × the bare consumer
    assert kafka_row.split()[-1] == "2.00"  # not a consumer: no ratio
    assert "the platform's processes together: 5.0 ms" in report


@pytest.mark.unit
def test_the_kafka_alone_ceiling_reads_the_journeys_topics_with_the_consumer_groups_the_services_document() -> None:
    groups = consumer_groups()

    assert sorted(groups) == ["assessment", "directory", "intake", "notifications", "privacy", "servicing"]
    assert groups["notifications"]["notifications"] == ["microcredit.applications.v1", "microcredit.loans.v1"]
    assert groups["assessment"] == {"assessment": ["microcredit.applications.v1"]}
    # A service writes a step only after one of its groups has read the step it answers.
    for step in JOURNEY:
        if step.by != DRIVER:
            assert any(JOURNEY[step.after].topic in topics for topics in groups[step.by].values()), step


@pytest.mark.unit
def test_the_kafka_alone_hops_time_each_alert_from_the_record_it_answers() -> None:
    stamps = {("a", n): 1000 + 10 * n for n in range(len(JOURNEY))} | {("b", n): 2000 + 20 * n for n in range(len(JOURNEY))}
    del stamps["b", 6]  # the journey was not over

    figures = hops(stamps)

    assert figures == {
        "loan.approved → alert.raised": {"count": 2, "p50": 15.0, "p99": 19.9},
        "loan.disbursed → alert.raised": {"count": 1, "p50": 10.0, "p99": 10.0},
    }


def test_the_phases_of_each_groups_transactions_are_averaged_over_the_run_from_every_replicas_metrics() -> None:
    def exposition(begin: float, commit: float, delay: float, transactions: int, records: int) -> str:
        """What a replica's /metrics says of one group, as prometheus_client writes it (buckets left out)."""
        return "\n".join([
            "# HELP microcredit_consumer_transaction_phase_seconds Where a consumer's transaction spent its time.",
            "# TYPE microcredit_consumer_transaction_phase_seconds histogram",
            f'microcredit_consumer_transaction_phase_seconds_count{{group="notifications",phase="begin"}} {transactions}',
            f'microcredit_consumer_transaction_phase_seconds_sum{{group="notifications",phase="begin"}} {begin}',
            f'microcredit_consumer_transaction_phase_seconds_count{{group="notifications",phase="commit"}} {transactions}',
            f'microcredit_consumer_transaction_phase_seconds_sum{{group="notifications",phase="commit"}} {commit}',
            "# HELP microcredit_consumer_fetch_delay_seconds From Kafka to the consumer.",
            "# TYPE microcredit_consumer_fetch_delay_seconds histogram",
            f'microcredit_consumer_fetch_delay_seconds_count{{group="notifications"}} {records}',
            f'microcredit_consumer_fetch_delay_seconds_sum{{group="notifications"}} {delay}',
            "# HELP microcredit_outbox_backlog Not these.",
            "# TYPE microcredit_outbox_backlog gauge",
            "microcredit_outbox_backlog 3.0",
            "",
        ])

    before = phases.totals([exposition(1.0, 2.0, 5.0, 10, 20), exposition(0.0, 0.0, 0.0, 0, 0)])
    # Two replicas: 30 more transactions in all, 40 more records.
    after = phases.totals([exposition(1.03, 2.06, 5.2, 30, 40), exposition(0.03, 0.06, 0.2, 10, 20)])

    figures = phases.phase_figures(before, after)

    assert figures == {"notifications": {"transactions": 30, "begin_ms": 2.0, "commit_ms": 4.0, "records": 40, "from_kafka_ms": 10.0}}
    assert table(PHASE_HEADERS, phase_rows(figures)).splitlines()[1].split() == [
        "notifications", "30", "40", "10.0", "2.0", "0.0", "0.0", "0.0", "4.0", "6.0",
    ]
    # A group that committed nothing meanwhile is left out.
    assert phases.phase_figures(after, after) == {}
