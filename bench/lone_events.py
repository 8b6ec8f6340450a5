"""What one event arriving alone costs each process of the platform, beside a bare consumer woken by the same records:
`python -m bench.lone_events`.

    .venv/bin/python -m bench.lone_events [--event loan.approved] [--events 300] [--gap-ms 30]   # on `make run`

One journey at a time, every event comes alone: each consumer group that reads its topic wakes for it, fetches it,
applies it (or skips a type it does not read) in a batch of one, and every effect it writes wakes the next groups.
This is the cost behind one event hop (`bench.flow --concurrency 1`): on 2 cores, the groups woken together wait
for each other. Here N valid events are written one at a time, with the headers the outbox relay gives them (each
acknowledged, then `--gap-ms` of quiet), and the CPU of every platform process is read before and after (`/proc`).
The same processes' CPU over a quiet window as long, measured just before, is taken off: what is left is the cost
of the events and of all they caused.

The raw ceiling, in the same run: a bare aiokafka consumer (no group, no commit, no handler: it only counts the
records), in a process of its own, woken by the same records. A service's group costs at least that much per event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.drain import SCENARIOS, as_written
from bench.flow_report import report, table
from bench.processes import cpu_seconds, process_groups
from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.kafka import local_client
from deploy.local.services import read_manifest
from shared.events.envelope import CONTENT_TYPE

NOT_RUNNING = "start the platform first: make run"
# The event written → the drain scenario that makes it (bench/drain.py): what it is, its topic, who reads it.
EVENTS = {"loan.approved": "servicing", "application.submitted": "assessment", "payment.missed": "notifications"}
BARE = "bare aiokafka consumer (the ceiling)"
SETTLE_SECONDS = 1.0  # after the last event: the effects of the last ones are applied and published meanwhile


def _label(label: str) -> str:
    """A process group's label without the count of Postgres backends, which changes from one snapshot to the next."""
    return re.sub(r"all \d+ procs", "every process", label)


def snapshot(manifest: Mapping[str, Any], state_dir: Path, extra: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds used so far per process group (Postgres backends as they are now), and by each `extra` pid."""
    groups = {_label(k): v for k, v in process_groups(manifest, state_dir).items() if k != "postgres (postmaster only)"}
    groups |= {label: [pid] for label, pid in extra.items()}
    return {label: sum(cpu_seconds(p) for p in pids) for label, pids in groups.items()}


def net_per_event(
    before_idle: Mapping[str, float], after_idle: Mapping[str, float], idle_seconds: float,
    before: Mapping[str, float], after: Mapping[str, float], seconds: float, events: int,
) -> dict[str, dict[str, float]]:
    """Per process group: CPU seconds during the events, the CPU its quiet rate would have used in as long, and what
    is left per event (ms). A group missing from a snapshot (a process that ended) counts for nothing."""
    out: dict[str, dict[str, float]] = {}
    for label in after:
        used = max(0.0, after[label] - before.get(label, after[label]))
        quiet = max(0.0, after_idle.get(label, 0.0) - before_idle.get(label, 0.0)) * seconds / idle_seconds if idle_seconds else 0.0
        out[label] = {"cpu_seconds": round(used, 3), "quiet_seconds": round(quiet, 3), "ms_per_event": round(1000 * (used - quiet) / events, 2)}
    return out


async def _bare_consumer(topic: str, partitions: list[int], state_dir: Path) -> int:
    """The ceiling's process: read every new record of `topic` (no group, no commit) until SIGTERM; print the count."""
    bootstrap = str(read_manifest(state_dir / "run" / "platform.json")["kafka"])
    consumer = AIOKafkaConsumer(**local_client(bootstrap, state_dir), enable_auto_commit=False)
    await consumer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for tp in assigned:
            await consumer.position(tp)
        print("ready", flush=True)
        count = 0
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=500)
            count += sum(len(records) for records in fetched.values())
        print(count, flush=True)
    finally:
        await consumer.stop()
    return 0


def _start_bare(state_dir: Path, topic: str, partitions: list[int]) -> subprocess.Popen[str]:
    """Start the ceiling's consumer; return once it reads from the end of the topic (it says so)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.lone_events", "--state-dir", str(state_dir), "--bare-consumer", topic,
         *map(str, partitions)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the bare consumer did not start")
    return proc


async def run(manifest: Mapping[str, Any], state_dir: Path, event: str, events: int, gap: float) -> dict[str, Any]:
    """Write `events` lone events with `gap` seconds between them; the CPU per event of every process, net of quiet."""
    scenario = SCENARIOS[EVENTS[event]]
    written = await as_written(manifest, state_dir, [scenario.event(i, datetime.now(UTC)) for i in range(events)])
    producer = AIOKafkaProducer(**local_client(str(manifest["kafka"]), state_dir), acks="all", linger_ms=0)
    await producer.start()
    bare = None
    try:
        bare = _start_bare(state_dir, scenario.topic, sorted(await producer.partitions_for(scenario.topic)))
        extra = {BARE: bare.pid}
        window = events * gap + SETTLE_SECONDS  # about as long as the events take
        before_idle, began = snapshot(manifest, state_dir, extra), time.monotonic()
        await asyncio.sleep(window)
        after_idle, idle_seconds = snapshot(manifest, state_dir, extra), time.monotonic() - began
        before, began = snapshot(manifest, state_dir, extra), time.monotonic()
        for e in written:
            await producer.send_and_wait(scenario.topic, value=e.to_bytes(), key=e.subject.encode(), headers=[
                ("content-type", CONTENT_TYPE.encode()), ("ce-type", e.type.encode()),  # as the relay writes them
            ])
            await asyncio.sleep(gap)
        await asyncio.sleep(SETTLE_SECONDS)
        after, seconds = snapshot(manifest, state_dir, extra), time.monotonic() - began
    finally:
        await producer.stop()
        out = ""
        if bare is not None:
            bare.send_signal(signal.SIGTERM)
            out, _ = bare.communicate(timeout=30)
    seen = int(out.strip() or 0)
    return {
        "event": event, "topic": scenario.topic, "events": events, "gap_ms": round(gap * 1000), "seconds": round(seconds, 2),
        "bare_consumer_records": seen, "services": sorted(manifest["services"]), "processes": net_per_event(before_idle, after_idle, idle_seconds, before, after, seconds, events),
    }


def render(figures: Mapping[str, Any]) -> str:
    """The report: each process's CPU per event, each service's beside the bare consumer's."""
    processes = figures["processes"]
    bare = processes[BARE]["ms_per_event"]
    rows = []
    for label, p in processes.items():
        service = label.split(" (")[0] in figures["services"]  # a service's replicas are one row
        ratio = f"{p['ms_per_event'] / bare:.1f}" if bare > 0 and service else ""
        rows.append([label, f"{p['cpu_seconds']:.2f}", f"{p['quiet_seconds']:.2f}", f"{p['ms_per_event']:.2f}", ratio])
    platform = sum(p["ms_per_event"] for label, p in processes.items() if label not in (BARE, "bench client"))
    return "\n".join([
        f"{figures['events']} lone `{figures['event']}` events on {figures['topic']}, one every {figures['gap_ms']} ms "
        f"after the previous one's acknowledgement ({figures['seconds']:.1f} s)",
        "CPU per event = (CPU during the events − the same process's quiet rate × as long) / events",
        table(["process", "CPU s", "quiet s", "ms per event", "× bare consumer"], rows),
        f"the platform's processes together: {platform:.1f} ms of CPU per lone event and what it caused "
        f"(the bare consumer saw {figures['bare_consumer_records']} of the {figures['events']} records)",
        f"load average: {figures['load']} ({os.cpu_count()} cores)",
    ])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.lone_events", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--event", choices=sorted(EVENTS), default="loan.approved", help="which event (default loan.approved, read by six groups)")
    parser.add_argument("--events", type=int, default=300, help="how many, one at a time (default 300)")
    parser.add_argument("--gap-ms", type=int, default=30, help="quiet after each acknowledgement, in ms (default 30)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--bare-consumer", nargs="+", metavar="TOPIC", help=argparse.SUPPRESS)  # the ceiling's own process
    args = parser.parse_args(argv)
    if args.bare_consumer:
        topic, *partitions = args.bare_consumer
        return asyncio.run(_bare_consumer(topic, [int(p) for p in partitions], args.state_dir.resolve()))
    if args.events < 1 or args.gap_ms < 0:
        parser.error("--events must be at least 1 and --gap-ms at least 0")
    state_dir: Path = args.state_dir.resolve()
    manifest = read_manifest(state_dir / "run" / "platform.json")
    if not isinstance(manifest.get("services"), dict):
        print(NOT_RUNNING, file=sys.stderr)
        return 1
    print(f"lone events: {args.events} × {args.event}, a quiet window first, then the events (about "
          f"{2 * (args.events * args.gap_ms / 1000 + SETTLE_SECONDS):.0f} s)", file=sys.stderr)
    figures = asyncio.run(run(manifest, state_dir, args.event, args.events, args.gap_ms / 1000))
    report(figures, render, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
