"""The journey's events through Kafka alone, the raw ceiling of `make bench`'s events per second: `python -m bench.fanout`.

    .venv/bin/python -m bench.fanout [--journeys 200] [--concurrency 16] [--json FILE]   # on a running platform

What one journey asks of Kafka, without a database, an HTTP request or a handler:
- the journey's seven records, on scratch topics with the partitions of the platform's, keyed as the platform keys
  them (the file, the loan, the alert), each about as large as a real envelope, written as the relays write
  (acks=all, idempotent, no linger);
- read by the platform's consumer groups: one process per service holds one bare aiokafka consumer per consumer
  group the service has on those topics (as its AsyncAPI document, `docs/asyncapi/<service>.yaml`, names them),
  fetching as a service fetches and committing what it read at most every `consumer_commit_interval_ms`;
- one after the other as in a journey: this process writes what an HTTP command causes (the submission; the
  assessment's outcome, two records; the bank's decision; the disbursement, once the approval is read) once it
  has read the step before with a consumer of its own, as the benchmark reads each step; a service's process
  writes what an event causes (the counsellor's alert of the approval and of the disbursement), as that
  service's relay would.

The platform's own processes keep running meanwhile, idle, as they run beside the journeys.

Printed: the events per second at `--concurrency` journeys at a time (closed loop, as `make bench`) and the CPU
each process spent per journey. Whatever the platform does beyond this (its transactions, its HTTP, its handlers,
its traces) can only lower what it reaches: this is the most `make bench` could show on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.flow_report import percentile, report, table
from bench.processes import cpu_seconds, machine_busy_seconds
from deploy.local.infra import DEFAULT_STATE_DIR, infra_status
from deploy.local.kafka import local_client
from deploy.local.services import read_manifest
from shared.events import Topics
from shared.offset_commits import PacedCommits
from shared.settings import ServiceSettings

NOT_RUNNING = "start the platform first: make run"
REPO = Path(__file__).resolve().parents[1]
ASYNCAPI = REPO / "docs" / "asyncapi"
SCRATCH = "bench.fanout."  # the scratch topics' prefix: bench.fanout.microcredit.applications.v1, …
DRIVER = "driver"
PAYLOAD_BYTES = 2_400  # about a submitted file's envelope (the other events' are smaller)
COMMIT_INTERVAL = ServiceSettings.model_fields["consumer_commit_interval_ms"].default / 1000
FETCH_WAIT_MS = ServiceSettings.model_fields["consumer_batch_wait_ms"].default
FETCH_RECORDS = ServiceSettings.model_fields["consumer_batch_size"].default


@dataclass(frozen=True)
class Step:
    """One record of a journey: its event, its topic, its key's aggregate, who writes it, and after which step."""

    event: str
    topic: str
    key: str  # "file", "loan" or "alert"
    by: str  # DRIVER (an HTTP command) or the service that reacts to the step `after`
    after: int  # the step read before it is written (-1: the journey's start)


# A journey's records in the order they are written; the assessed and routed records come from one command, and the
# disbursement follows the approval (the loan servicing opens from it), as the alert of the approval does.
JOURNEY: tuple[Step, ...] = (
    Step("application.submitted", Topics.APPLICATIONS, "file", DRIVER, -1),
    Step("application.assessed", Topics.APPLICATIONS, "file", DRIVER, 0),
    Step("application.routed", Topics.APPLICATIONS, "file", DRIVER, 0),
    Step("loan.approved", Topics.APPLICATIONS, "file", DRIVER, 2),
    Step("alert.raised", Topics.ALERTS, "alert", "notifications", 3),
    Step("loan.disbursed", Topics.LOANS, "loan", DRIVER, 3),
    Step("alert.raised", Topics.ALERTS, "alert", "notifications", 5),
)
TOPICS = tuple(dict.fromkeys(s.topic for s in JOURNEY))
LAST = len(JOURNEY) - 1  # the step that ends a journey


def written_after(by: str) -> dict[int, list[int]]:
    """What `by` writes once it has read each step: step read → the steps it writes then."""
    out: dict[int, list[int]] = {}
    for n, step in enumerate(JOURNEY):
        if step.by == by:
            out.setdefault(step.after, []).append(n)
    return out


def consumer_groups(directory: Path = ASYNCAPI) -> dict[str, dict[str, list[str]]]:
    """service → consumer group → the journey's topics it reads, from the services' AsyncAPI documents."""
    out: dict[str, dict[str, list[str]]] = {}
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for channel in (document.get("channels") or {}).values():
            description, topic = channel.get("description", ""), channel.get("address")
            if topic in TOPICS and description.startswith("Consumer group `"):
                group = description.split("`")[1]
                out.setdefault(path.stem, {}).setdefault(group, []).append(topic)
    return out


def _record(journey: str, n: int, keys: Mapping[str, bytes]) -> dict[str, Any]:
    step = JOURNEY[n]
    return {
        "topic": SCRATCH + step.topic, "key": keys[step.key], "value": os.urandom(PAYLOAD_BYTES // 2).hex().encode(),
        "headers": [("journey", journey.encode()), ("step", str(n).encode()), ("ce-type", step.event.encode())],
    }


def _keys(journey: str) -> dict[str, bytes]:
    return {"file": journey.encode(), "loan": str(uuid.uuid5(uuid.NAMESPACE_URL, journey)).encode(), "alert": uuid.uuid4().hex.encode()}


def _step_of(headers: Sequence[tuple[str, bytes]]) -> tuple[str, int]:
    values = dict(headers)
    return values["journey"].decode(), int(values["step"])


async def _start_consumer(bootstrap: str, state_dir: Path, group: str, topics: Sequence[str]) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        *topics, **local_client(bootstrap, state_dir), group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
    )
    await consumer.start()
    return consumer


async def _producer(bootstrap: str, state_dir: Path) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(**local_client(bootstrap, state_dir), acks="all", enable_idempotence=True, linger_ms=0)
    await producer.start()
    return producer


async def _wait_assigned(consumers: Sequence[AIOKafkaConsumer]) -> None:
    """Until every consumer has its partitions (the group joined), reading nothing meanwhile."""
    while any(not c.assignment() for c in consumers):
        await asyncio.gather(*(c.getmany(timeout_ms=100) for c in consumers if not c.assignment()))


async def _service(bootstrap: str, state_dir: Path, service: str, groups: Mapping[str, Sequence[str]], tag: str) -> int:
    """A service's stand-in until SIGTERM: its groups read; it writes what it reacts to; prints `ready` once joined."""
    consumers = {g: await _start_consumer(bootstrap, state_dir, f"{tag}-{g}", [SCRATCH + t for t in topics]) for g, topics in groups.items()}
    producer = await _producer(bootstrap, state_dir)
    writes_after = written_after(service)
    # The group that reacts to a step: the first of the service's groups reading it.
    reacts = {after: next(g for g, topics in groups.items() if JOURNEY[after].topic in topics) for after in writes_after}
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def loop(group: str, consumer: AIOKafkaConsumer) -> None:
        commits = PacedCommits(group, COMMIT_INTERVAL)  # the services' own offset pacing
        try:
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=FETCH_RECORDS)
                records = [r for batch in fetched.values() for r in batch]
                writes = []
                for r in records:
                    journey, n = _step_of(r.headers)
                    if reacts.get(n) == group:
                        writes += [producer.send(**_record(journey, m, _keys(journey))) for m in writes_after[n]]
                await asyncio.gather(*[await w for w in writes])  # acknowledged, as a relay's batch
                if records:
                    commits.passed(consumer, records)
        finally:
            await commits.stop()

    try:
        await _wait_assigned(list(consumers.values()))
        print("ready", flush=True)
        tasks = [asyncio.create_task(loop(g, c)) for g, c in consumers.items()]
        await stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await producer.stop()
        for c in consumers.values():
            await c.stop()
    return 0


async def _scratch_topics(admin: AIOKafkaAdminClient, partitions: Mapping[str, int]) -> None:
    existing = set(await admin.list_topics())
    stale = [SCRATCH + t for t in partitions if SCRATCH + t in existing]
    if stale:  # left by an interrupted run
        await admin.delete_topics(stale)
        while stale and set(stale) & set(await admin.list_topics()):
            await asyncio.sleep(0.2)
    await admin.create_topics([NewTopic(SCRATCH + t, num_partitions=n, replication_factor=1) for t, n in partitions.items()])


async def run(manifest: Mapping[str, Any], state_dir: Path, journeys: int, concurrency: int) -> dict[str, Any]:
    """Walk `journeys` journeys of records through Kafka, `concurrency` at a time; events per second and CPU per journey."""
    bootstrap = str(manifest["kafka"])
    topology = consumer_groups()
    tag = f"bench-fanout-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(**local_client(bootstrap, state_dir))
    await admin.start()
    producer = await _producer(bootstrap, state_dir)
    workers: dict[str, subprocess.Popen[str]] = {}
    reader = None
    try:
        await _scratch_topics(admin, {t: len(await producer.partitions_for(t)) for t in TOPICS})
        for service, groups in topology.items():
            workers[service] = subprocess.Popen(
                [sys.executable, "-m", "bench.fanout", "--state-dir", str(state_dir), "--service", service, json.dumps(groups), tag],
                stdout=subprocess.PIPE, text=True, cwd=REPO,
            )
        for service, proc in workers.items():
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the stand-in of {service} did not start")
        reader = await _start_consumer(bootstrap, state_dir, f"{tag}-{DRIVER}", [SCRATCH + t for t in TOPICS])
        await _wait_assigned([reader])
        kafka_pid = infra_status(state_dir)[0].pid
        pids = {**{s: p.pid for s, p in workers.items()}, "kafka broker": kafka_pid, "this driver": os.getpid()}
        before = {label: cpu_seconds(pid) for label, pid in pids.items() if pid}
        busy_before, started = machine_busy_seconds(), time.monotonic()
        stamps: dict[tuple[str, int], int] = {}
        durations = await _drive(producer, reader, journeys, concurrency, stamps)
        wall = time.monotonic() - started
        busy = machine_busy_seconds() - busy_before
        cpu = {label: cpu_seconds(pid) - before[label] for label, pid in pids.items() if pid}
    finally:
        for proc in workers.values():
            proc.send_signal(signal.SIGTERM)
        for proc in workers.values():
            proc.communicate(timeout=30)
        if reader is not None:
            await reader.stop()
        await producer.stop()
        try:
            await admin.delete_topics([SCRATCH + t for t in TOPICS])
        finally:
            await admin.close()
    events = journeys * len(JOURNEY)
    return {
        "journeys": journeys, "concurrency": concurrency, "events": events, "seconds": round(wall, 2),
        "events_per_second": round(events / wall, 1),
        "journey_ms": {"p50": round(1e3 * percentile(durations, 50), 1), "p99": round(1e3 * percentile(durations, 99), 1)},
        "hops": hops(stamps),
        "groups": {s: sorted(g) for s, g in topology.items()},
        "cpu_ms_per_journey": {label: round(1e3 * c / journeys, 2) for label, c in cpu.items()},
        "machine_busy_percent": round(100 * busy / ((os.cpu_count() or 1) * wall), 1),
        "machine_cpu_ms_per_journey": round(1e3 * busy / journeys, 1),
    }


async def _drive(
    producer: AIOKafkaProducer, reader: AIOKafkaConsumer, journeys: int, concurrency: int, stamps: dict[tuple[str, int], int]
) -> list[float]:
    """The journeys, `concurrency` at a time (a new one starts when one ends); each one's seconds. Every record's
    timestamp goes to `stamps` (journey, step → ms)."""
    driver_writes = written_after(DRIVER)
    begun: dict[str, float] = {}
    keys: dict[str, dict[str, bytes]] = {}
    durations: list[float] = []
    started = 0

    async def write(journey: str, after: int) -> None:
        for n in driver_writes[after]:
            await producer.send(**_record(journey, n, keys[journey]))

    async def begin() -> None:
        nonlocal started
        journey = uuid.uuid4().hex
        started += 1
        begun[journey], keys[journey] = time.monotonic(), _keys(journey)
        await write(journey, -1)

    for _ in range(min(concurrency, journeys)):
        await begin()
    while len(durations) < journeys:
        fetched = await reader.getmany(timeout_ms=FETCH_WAIT_MS, max_records=FETCH_RECORDS)
        for records in fetched.values():
            for r in records:
                journey, n = _step_of(r.headers)
                if journey not in begun:
                    continue
                stamps[journey, n] = r.timestamp
                if n in driver_writes:
                    await write(journey, n)
                elif n == LAST:
                    durations.append(time.monotonic() - begun.pop(journey))
                    if started < journeys:
                        await begin()
    return durations


def hops(stamps: Mapping[tuple[str, int], int]) -> dict[str, dict[str, Any]]:
    """Per hop a service makes (an event it reacts to → the event it writes): pairs, p50 and p99 in ms from the
    cause's record timestamp to the effect's, as `make bench`'s Kafka→Kafka columns."""
    out = {}
    for n, step in enumerate(JOURNEY):
        if step.by == DRIVER:
            continue
        gaps = [stamps[j, n] - stamps[j, step.after] for (j, m) in stamps if m == n and (j, step.after) in stamps]
        p50, p99 = percentile(gaps, 50), percentile(gaps, 99)
        out[f"{JOURNEY[step.after].event} → {step.event}"] = {
            "count": len(gaps), "p50": None if p50 is None else round(p50, 1), "p99": None if p99 is None else round(p99, 1),
        }
    return out


def render(figures: Mapping[str, Any]) -> str:
    """The report: events per second, and each process's CPU per journey."""
    cpu = figures["cpu_ms_per_journey"]
    groups = "; ".join(f"{s}: {', '.join(g)}" for s, g in figures["groups"].items())
    return "\n".join([
        f"Kafka alone, a journey's {len(JOURNEY)} records read by the platform's consumer groups ({groups})",
        f"{figures['journeys']} journeys, {figures['concurrency']} at a time: {figures['events']} events in "
        f"{figures['seconds']:.2f} s = {figures['events_per_second']:.1f} events/s; a journey took "
        f"p50 {figures['journey_ms']['p50']:.1f} ms, p99 {figures['journey_ms']['p99']:.1f} ms",
        table(["hop (cause → effect), Kafka→Kafka ms", "pairs", "p50", "p99"],
              [[name, h["count"], h["p50"], h["p99"]] for name, h in figures["hops"].items()]),
        table(["process", "CPU ms per journey"], [[label, f"{ms:.2f}"] for label, ms in cpu.items()]),
        f"the machine's {os.cpu_count()} cores were busy {figures['machine_busy_percent']:.0f} % of the run: "
        f"{figures['machine_cpu_ms_per_journey']:.1f} ms of CPU per journey (every process, the idle platform's too)",
        f"load average: {figures['load']} ({os.cpu_count()} cores)",
    ])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=200, help="how many journeys (default 200)")
    parser.add_argument("--concurrency", type=int, default=16, help="journeys at a time (default 16, as make bench)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--service", nargs=3, metavar=("SERVICE", "GROUPS", "TAG"), help=argparse.SUPPRESS)  # a stand-in's process
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    manifest = read_manifest(state_dir / "run" / "platform.json")
    if args.service:
        service, groups, tag = args.service
        return asyncio.run(_service(str(manifest["kafka"]), state_dir, service, json.loads(groups), tag))
    if args.journeys < 1 or args.concurrency < 1:
        parser.error("--journeys and --concurrency must be at least 1")
    if not isinstance(manifest.get("services"), dict):
        print(NOT_RUNNING, file=sys.stderr)
        return 1
    figures = asyncio.run(run(manifest, state_dir, args.journeys, args.concurrency))
    report(figures, render, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
