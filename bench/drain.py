"""One service draining N events alone, beside the raw ceilings of the same run: `python -m bench.drain`.

On the running platform (`make run`), nothing stopped: N valid events are written at once to the topic
of the chosen service's consumer group, then the group's committed offsets are watched until they pass
the last of them. Figures: events per second from the first write to the last commit, the service
process's CPU per event, and, measured right after in the same run, the Postgres ceilings (inbox +
state + outbox + notify, one event per transaction on 8 connections, and 100 per transaction) and
aiokafka reading the same records committing per batch (`bench/ceilings.py`).

"Alone": the events go to one service's topic; other groups that read that topic read them too (their
work shares the 2 cores) and are named in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.kafka import local_client
from bench.ceilings import kafka_consume_ceiling, postgres_ceiling
from bench.flow_report import report, table
from bench.processes import cpu_seconds, cpu_snapshot, process_figures, process_groups
from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.privacy import kek_path
from deploy.local.services import read_manifest
from shared.events import ApplicationSubmitted, ApplicationSubmittedData, LoanApproved, LoanApprovedData, PaymentMissed, Topics, new_event
from shared.events.envelope import Envelope
from shared.events.loans import PaymentMissedData
from shared.events.personal import personal_fields
from shared.privacy.keyring import KeyRing
from shared.privacy.sealing import Sealer

NOT_RUNNING = "start the platform first: make run"
OWNERSHIP = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-bench-drain"}
Offsets = dict[TopicPartition, int]


def _submitted(n: int, now: datetime) -> Envelope[Any]:
    application_id = uuid.uuid4()
    data = ApplicationSubmittedData(
        application_id=application_id, **OWNERSHIP, applicant_name=f"Nadia Benali {n}", purpose="vehicle", amount_cents=300_000,
        duration_months=36, monthly_resources_cents=135_000, monthly_charges_cents=82_000,
    )
    return new_event(ApplicationSubmitted, source="/services/intake", subject=str(application_id), time=now, data=data)


def _approved(n: int, now: datetime) -> Envelope[Any]:
    application_id = uuid.uuid4()
    data = LoanApprovedData(
        application_id=application_id, **OWNERSHIP, bank_id="credit-mutuel-nord", amount_cents=300_000, annual_rate="0.035",
        duration_months=36, first_due_date=now.date() + timedelta(days=30),
    )
    return new_event(LoanApproved, source="/services/assessment", subject=str(application_id), time=now, data=data)


def _missed(n: int, now: datetime) -> Envelope[Any]:
    loan_id = uuid.uuid4()
    due = now.date() - timedelta(days=1)
    data = PaymentMissedData(
        loan_id=loan_id, application_id=uuid.uuid4(), **OWNERSHIP, instalment_number=1, due_date=due, amount_due_cents=8_791,
        amount_unpaid_cents=8_791, business_date=now.date(),
    )
    return new_event(PaymentMissed, source="/services/servicing", subject=str(loan_id), time=now, data=data)


@dataclass(frozen=True)
class Scenario:
    """What one service's group is given to drain, and which other groups read the same topic."""

    group: str
    topic: str
    event: Callable[[int, datetime], Envelope[Any]]
    work: str
    also_read_by: tuple[str, ...]


SCENARIOS: dict[str, Scenario] = {
    "assessment": Scenario(
        "assessment", Topics.APPLICATIONS, _submitted, "application submitted: inbox, assessment opened (diagnostic, checks), audit",
        ("intake", "servicing", "notifications (remembers the applicant's name)"),
    ),
    "servicing": Scenario(
        "servicing", Topics.APPLICATIONS, _approved, "loan approved: inbox, loan and its 36 instalments",
        ("intake (dates the milestone)", "assessment", "notifications (raises an alert: outbox)"),
    ),
    # Each alert also queues an e-mail: without an SMTP relay (`make run` has none) the mailer retries them for hours.
    "notifications": Scenario(
        "notifications", Topics.LOANS, _missed, "payment missed: inbox, follow-up, alert, outbox, e-mail queued", (),
    ),
}


async def as_written(manifest: Mapping[str, Any], state_dir: Path, events: list[Envelope[Any]]) -> list[Envelope[Any]]:
    """`events` as intake's outbox writes them: personal fields sealed with their applicants' keys (made in the
    platform's keyring with its KEK), so that the service drained opens them as it does every day."""
    if not any(personal_fields(type(e)) for e in events):
        return events
    keyring = KeyRing(base64.b64decode(kek_path(state_dir).read_text().strip()))
    conn = await asyncpg.connect(str(manifest["postgres"]))
    try:
        async with conn.transaction():
            return await Sealer(keyring).seal(conn, events)
    finally:
        await conn.close()


def passed(committed: Mapping[TopicPartition, int], targets: Mapping[TopicPartition, int]) -> bool:
    """True when the group committed at least up to each target offset (the offset after the last record written)."""
    return all(committed.get(tp, 0) >= end for tp, end in targets.items())


def per_second(count: int, seconds: float) -> float:
    """A rate, 0 for an empty window."""
    return count / seconds if seconds > 0 else 0.0


async def _committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> Offsets:
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp: om.offset for tp, om in offsets.items() if tp.topic == topic and om.offset >= 0}


async def _wait(admin: AIOKafkaAdminClient, group: str, topic: str, targets: Offsets, timeout: float, poll: float = 0.05) -> float | None:
    """The time (epoch seconds) the group was first seen past `targets`, or None after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if passed(await _committed(admin, group, topic), targets):
            return time.time()
        await asyncio.sleep(poll)
    return None


async def drain(manifest: Mapping[str, Any], state_dir: Path, scenario: Scenario, service: str, n: int, timeout: float) -> dict[str, Any]:
    """Write `n` events for the scenario's group, wait until it committed past them; figures of the drain."""
    bootstrap = str(manifest["kafka"])
    admin = AIOKafkaAdminClient(**local_client(bootstrap))
    probe = AIOKafkaConsumer(**local_client(bootstrap), enable_auto_commit=False)
    # Batches of up to 1 MiB per partition: the writer is not what limits the drain (16 KiB ones took 1.8 s for 5,000
    # events, each partition waiting for one batch's acknowledgement before it sends the next).
    producer = AIOKafkaProducer(**local_client(bootstrap), enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await admin.start()
    await probe.start()
    await producer.start()
    try:
        partitions = [TopicPartition(scenario.topic, p) for p in sorted(await producer.partitions_for(scenario.topic))]
        ends = await probe.end_offsets(partitions)
        if await _wait(admin, scenario.group, scenario.topic, ends, timeout=60.0) is None:
            raise RuntimeError(f"{scenario.group} has not caught up with {scenario.topic} (its backlog would be counted)")
        now = datetime.now(UTC)
        events = await as_written(manifest, state_dir, [scenario.event(i, now) for i in range(n)])
        records = [(e.subject.encode(), e.to_bytes()) for e in events]
        groups = process_groups(manifest, state_dir)
        cpu_before = cpu_snapshot(groups)
        pid = int(manifest["services"][service]["pid"])
        service_cpu_before = cpu_seconds(pid)
        began = time.time()
        sent = await asyncio.gather(*[
            await producer.send(scenario.topic, value=value, key=key, headers=[("content-type", b"application/cloudevents+json")])
            for key, value in records
        ])
        written = time.time()
        first: Offsets = {}
        targets: Offsets = {}
        for meta in sent:
            tp = TopicPartition(meta.topic, meta.partition)
            first[tp] = min(first.get(tp, meta.offset), meta.offset)
            targets[tp] = max(targets.get(tp, 0), meta.offset + 1)
        done = await _wait(admin, scenario.group, scenario.topic, targets, timeout)
        service_cpu = cpu_seconds(pid) - service_cpu_before
        ended = done or time.time()
        processes = process_figures(process_groups(manifest, state_dir), cpu_before, ended - began)
    finally:
        await producer.stop()
        await probe.stop()
        await admin.close()
    seconds = ended - began
    return {
        "events": n,
        "finished": done is not None,
        "write_seconds": round(written - began, 3),
        "seconds": round(seconds, 3),
        "events_per_second": round(per_second(n, seconds), 1),
        "service_cpu_seconds": round(service_cpu, 2),
        "service_cpu_ms_per_event": round(1000 * service_cpu / n, 2),
        "processes": processes,
        "ranges": {f"{tp.topic}:{tp.partition}": [first[tp], targets[tp]] for tp in targets},
    }


async def ceilings(manifest: Mapping[str, Any], ranges: Mapping[str, list[int]], pg_events: int) -> dict[str, float]:
    """The raw ceilings, measured now on the same Postgres and Kafka."""
    dsn = str(manifest["postgres"])
    by_tp = {TopicPartition(k.rsplit(":", 1)[0], int(k.rsplit(":", 1)[1])): (v[0], v[1]) for k, v in ranges.items()}
    return {
        "postgres_1_per_tx": round(await postgres_ceiling(dsn, per_transaction=1, events=pg_events), 1),
        "postgres_100_per_tx": round(await postgres_ceiling(dsn, per_transaction=100, events=pg_events * 5), 1),
        "kafka_consume_batch_commit": round(await kafka_consume_ceiling(str(manifest["kafka"]), by_tp), 1),
    }


def render(figures: Mapping[str, Any]) -> str:
    """The report: the drain beside each ceiling, with the ratio."""
    d, c = figures["drain"], figures["ceilings"]
    rate = d["events_per_second"]
    out = [
        f"{figures['service']} draining {d['events']} events alone (group `{figures['group']}` on {figures['topic']})",
        f"  each event: {figures['work']}",
        f"  also read by: {', '.join(figures['also_read_by']) or 'no other group'}",
        f"  written in {d['write_seconds']:.2f} s; last offset committed {d['seconds']:.2f} s after the first write"
        + ("" if d["finished"] else "  (NOT FINISHED: timed out)"),
        "",
        table(["", "figure", "ceiling", "ratio"], [
            ["events/s vs Postgres, 1 event per transaction, 8 connections", rate, c["postgres_1_per_tx"],
             f"{rate / c['postgres_1_per_tx']:.3f}"],
            ["events/s vs Postgres, 100 events per transaction, 8 connections", rate, c["postgres_100_per_tx"],
             f"{rate / c['postgres_100_per_tx']:.3f}"],
            ["events/s vs aiokafka consume, commit per batch", rate, c["kafka_consume_batch_commit"],
             f"{rate / c['kafka_consume_batch_commit']:.4f}"],
        ]),
        "",
        f"  service CPU: {d['service_cpu_seconds']:.2f} s, {d['service_cpu_ms_per_event']:.2f} ms per event consumed (goal ≤ 1 ms)",
        f"  goal: ≥ 1,500 events/s and ≥ 0.6 × the 1-event-per-transaction ceiling ({0.6 * c['postgres_1_per_tx']:.0f} events/s now)",
        "",
        "processes during the drain (CPU = from the first write to the last commit)",
    ]
    rows = [[label, f"{p['cpu_seconds']:.2f}", p["cpu_percent_of_wall"]] for label, p in d["processes"].items()]
    out.append(table(["process", "CPU s", "CPU %"], rows))
    out.append(f"load average: {figures['load']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.drain", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", choices=sorted(SCENARIOS), default="assessment", help="whose consumer group drains (default assessment)")
    parser.add_argument("--events", type=int, default=5000, help="events to write (default 5000)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the group to commit them all")
    parser.add_argument("--pg-events", type=int, default=4000, help="events of the 1-per-transaction Postgres ceiling (×5 for the 100-per one)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    state_dir: Path = args.state_dir.resolve()
    manifest = read_manifest(state_dir / "run" / "platform.json")
    if not isinstance(manifest.get("services"), dict) or args.service not in manifest["services"]:  # type: ignore[operator]
        print(NOT_RUNNING, file=sys.stderr)
        return 1
    scenario = SCENARIOS[args.service]
    print(f"drain: {args.events} events for {scenario.group}, platform {state_dir}", file=sys.stderr)
    figures: dict[str, Any] = {"service": args.service, "group": scenario.group, "topic": scenario.topic, "work": scenario.work,
                               "also_read_by": list(scenario.also_read_by)}
    figures["drain"] = asyncio.run(drain(manifest, state_dir, scenario, args.service, args.events, args.timeout))
    print("measuring the ceilings…", file=sys.stderr)
    figures["ceilings"] = asyncio.run(ceilings(manifest, figures["drain"]["ranges"], args.pg_events))
    report(figures, render, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
