"""Push N applications through the running platform, submission to counsellor alert: `python -m bench.flow`."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.infra import DEFAULT_STATE_DIR, infra_status
from deploy.local.journey import Credentials, Journey, JourneyError, sample_application, walk
from deploy.local.services import read_manifest
from shared.events import Topics
from shared.events.envelope import EnvelopeHeader

PLATFORM_TOPICS: tuple[str, ...] = (Topics.APPLICATIONS, Topics.LOANS, Topics.ALERTS)
CONSUMER_GROUPS: tuple[str, ...] = ("intake", "assessment", "assessment-bank-decisions", "servicing", "notifications")
NOT_RUNNING = "start the platform first: make run"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
Offsets = dict[TopicPartition, int]


@dataclass
class JourneyRun:
    """What the concurrent journeys produced."""

    completed: list[Journey] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    started_at: float = 0.0  # epoch seconds
    wall: float = 0.0  # seconds from the first submission to the last journey's end


# ---------------------------------------------------------------- journeys


def _reason(exc: Exception) -> str:
    """A short, id-free description of why a journey failed, to group failures."""
    text = str(exc) if isinstance(exc, JourneyError) else f"{type(exc).__name__}: {exc}"
    return text[:160]


async def run_journeys(urls: Mapping[str, str], secret: str, n: int, concurrency: int, timeout: float) -> JourneyRun:
    """Walk `n` applications through the flow, `concurrency` at a time; failures are counted, not raised."""
    tag = uuid.uuid4().hex[:6]  # per-run counsellors: this run's alerts are the only ones they get
    today = date.today()
    result = JourneyRun()
    indices = iter(range(n))
    step = max(1, n // 10)
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)

    async def worker(client: httpx.AsyncClient) -> None:
        for i in indices:  # shared iterator: each index is taken by exactly one worker
            credentials = Credentials(secret=secret, counsellor=f"c-bench-{tag}-{i % 50}")
            try:
                result.completed.append(
                    await walk(
                        client, urls, today=today, credentials=credentials, application=sample_application(i), timeout=timeout
                    )
                )
            except (JourneyError, httpx.HTTPError) as exc:
                result.failures[_reason(exc)] += 1
            done = len(result.completed) + sum(result.failures.values())
            if done % step == 0:
                print(f"  {done}/{n} journeys done", file=sys.stderr, flush=True)

    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        result.started_at = time.time()
        began = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        result.wall = time.monotonic() - began
    return result


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_figures(journeys: Sequence[Journey]) -> dict[str, Any]:
    """End-to-end latency percentiles and, per step, time since submission and time spent in the step (ms)."""

    def ms(values: Sequence[float], *qs: float) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for q in qs:
            p = percentile(values, q)
            out[f"p{q:g}"] = None if p is None else round(p * 1000, 1)
        return out

    end_to_end = ms([j.latency for j in journeys], 50, 95, 99, 100)
    end_to_end["max"] = end_to_end.pop("p100")
    steps: dict[str, dict[str, dict[str, float | None]]] = {}
    names = list(journeys[0].steps) if journeys else []
    for idx, name in enumerate(names):
        at = [j.steps[name] for j in journeys]
        spent = [j.steps[name] - (j.steps[names[idx - 1]] if idx else 0.0) for j in journeys]
        steps[name] = {"since_submission": ms(at, 50, 95), "in_step": ms(spent, 50, 95)}
    return {"end_to_end_ms": end_to_end, "steps": steps}


# ---------------------------------------------------------------- Kafka


async def _committed(admin: AIOKafkaAdminClient) -> dict[str, Offsets]:
    """Each consumer group's committed offsets (partitions without a commit are left out)."""
    groups: dict[str, Offsets] = {}
    for group in CONSUMER_GROUPS:
        offsets = await admin.list_consumer_group_offsets(group)
        groups[group] = {tp: om.offset for tp, om in offsets.items() if om.offset >= 0}
    return groups


def _caught_up(groups: Mapping[str, Offsets], ends: Offsets) -> bool:
    """True when every group committed up to the end of each partition of the topics it consumes."""
    for offsets in groups.values():
        topics = {tp.topic for tp in offsets}
        if any(offsets.get(tp, 0) < end for tp, end in ends.items() if tp.topic in topics):
            return False
    return True


async def wait_until_drained(
    consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient, partitions: list[TopicPartition], timeout: float
) -> bool:
    """Wait until the outboxes stop publishing and the consumer groups have committed everything."""
    deadline = time.monotonic() + timeout
    last: Offsets = {}
    stable_since = time.monotonic()
    while True:
        ends = await consumer.end_offsets(partitions)
        if ends != last:
            last, stable_since = ends, time.monotonic()
        if _caught_up(await _committed(admin), ends) and time.monotonic() - stable_since >= 1.0:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def count_events(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], start_ms: int, end_ms: int
) -> dict[str, Counter[str]]:
    """Events on the platform topics with a record timestamp in [start_ms, end_ms]: source -> type -> count."""
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.offsets_for_times({tp: start_ms for tp in partitions})
    for tp in partitions:
        found = starts.get(tp)
        consumer.seek(tp, found.offset if found is not None else ends[tp])
    counts: dict[str, Counter[str]] = {}

    async def pending() -> list[TopicPartition]:
        return [tp for tp in partitions if await consumer.position(tp) < ends[tp]]

    while await pending():
        batch = await consumer.getmany(timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if record.offset < ends[tp] and start_ms <= record.timestamp <= end_ms:
                    header = EnvelopeHeader.model_validate_json(record.value)
                    counts.setdefault(header.source, Counter())[header.type] += 1
    return counts


class KafkaProbe:
    """A group-less consumer and an admin client on the platform's broker."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.partitions: list[TopicPartition] = []

    async def start(self) -> None:
        """Connect and learn the platform topics' partitions."""
        await self.consumer.start()
        await self.admin.start()
        described = await self.admin.describe_topics(list(PLATFORM_TOPICS))
        self.partitions = [
            TopicPartition(t["topic"], p) for t in described for p in sorted(q["partition"] for q in t["partitions"])
        ]
        if not self.partitions:
            raise RuntimeError(f"none of the platform topics {PLATFORM_TOPICS} exists on the broker")
        self.consumer.assign(self.partitions)

    async def stop(self) -> None:
        """Disconnect."""
        await self.consumer.stop()
        await self.admin.close()


# ---------------------------------------------------------------- processes


def _status_kb(pid: int, key: str) -> int | None:
    """A `kB` field (VmHWM, VmRSS) of /proc/<pid>/status, or None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0 when gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0.0
    fields = raw[raw.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(parent: int) -> list[int]:
    """Live processes whose parent is `parent`."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _status_kb(int(entry.name), "PPid") == parent:
            kids.append(int(entry.name))
    return kids


def process_groups(manifest: Mapping[str, Any], state_dir: Path) -> dict[str, list[int]]:
    """Label -> pids for every platform process (services, trace sink, Kafka, Postgres) and this client."""
    groups = {name: [int(info["pid"])] for name, info in manifest["services"].items() if info.get("pid")}
    if isinstance(manifest.get("tracesink_pid"), int):
        groups["trace sink"] = [manifest["tracesink_pid"]]
    kafka, postgres = infra_status(state_dir)
    if kafka.pid:
        groups["kafka broker"] = [kafka.pid]
    if postgres.pid:
        backends = _children(postgres.pid)
        groups["postgres (postmaster only)"] = [postgres.pid]
        groups[f"postgres (all {1 + len(backends)} procs, sum)"] = [postgres.pid, *backends]
    groups["bench client"] = [os.getpid()]
    return groups


def cpu_snapshot(groups: Mapping[str, list[int]]) -> dict[int, float]:
    """CPU seconds used so far by every pid of `groups`."""
    return {pid: _cpu_seconds(pid) for pids in groups.values() for pid in pids}


def process_figures(groups: Mapping[str, list[int]], cpu_before: Mapping[int, float], wall: float) -> dict[str, Any]:
    """Peak and current resident memory (MiB) and CPU used during the benchmark, per process group."""
    out: dict[str, Any] = {}
    for label, pids in groups.items():
        hwm = [_status_kb(p, "VmHWM") or 0 for p in pids]
        rss = [_status_kb(p, "VmRSS") or 0 for p in pids]
        cpu = sum(max(0.0, _cpu_seconds(p) - cpu_before.get(p, 0.0)) for p in pids)
        out[label] = {
            "pids": pids,
            "vm_hwm_mib": round(sum(hwm) / 1024, 1),
            "vm_rss_mib": round(sum(rss) / 1024, 1),
            "cpu_seconds": round(cpu, 2),
            "cpu_percent_of_wall": round(100 * cpu / wall, 1) if wall else None,
        }
    return out


# ---------------------------------------------------------------- report


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    ]
    return "\n".join(lines)


def render(figures: Mapping[str, Any]) -> str:
    """The human-readable report."""
    run, lat = figures["run"], figures["latency"]
    out = [
        f"applications {run['applications']}, concurrency {run['concurrency']}",
        f"wall time          {run['wall_seconds']:.2f} s",
        f"completed          {run['completed']}   ({run['completed_per_second']:.1f} applications/s)",
        f"failed             {run['failed']}",
    ]
    out += [f"  {count} × {reason}" for reason, count in run["failures"].items()]
    e2e = lat["end_to_end_ms"]
    out += ["", "end-to-end latency, submission → counsellor alert (ms)"]
    out.append(table(["", "p50", "p95", "p99", "max"], [["latency", e2e["p50"], e2e["p95"], e2e["p99"], e2e["max"]]]))
    out += ["", "per step (ms): time since submission, and time spent in the step"]
    rows = [[name, s["since_submission"]["p50"], s["since_submission"]["p95"], s["in_step"]["p50"], s["in_step"]["p95"]]
            for name, s in lat["steps"].items()]
    out.append(table(["step", "at p50", "at p95", "step p50", "step p95"], rows))
    ev = figures["events"]
    out += ["", f"events produced per service (record timestamps in a {ev['window_seconds']:.2f} s window;"
                " rate = count / wall time)"]
    rows = [[src, p["count"], f"{p['per_second']:.1f}"] for src, p in ev["produced"].items()]
    rows.append(["total", ev["produced_total"], f"{ev['produced_total'] / run['wall_seconds']:.1f}"])
    out.append(table(["source", "events", "per s"], rows))
    out += ["", "events consumed per consumer group (committed offsets delta)"]
    rows = [[g, c["count"], f"{c['per_second']:.1f}"] for g, c in ev["consumed"].items()]
    out.append(table(["group", "events", "per s"], rows))
    if not ev["drained"]:
        out.append("  (warning: the consumer groups had not caught up when the counts were taken)")
    out += ["", "processes (VmHWM = peak resident memory since the process started; CPU = during this benchmark)"]
    rows = [[label, " ".join(map(str, p["pids"])) if len(p["pids"]) <= 2 else f"{len(p['pids'])} pids",
             f"{p['vm_hwm_mib']:.1f}", f"{p['vm_rss_mib']:.1f}", f"{p['cpu_seconds']:.2f}", p["cpu_percent_of_wall"]]
            for label, p in figures["processes"].items()]
    out.append(table(["process", "pid", "VmHWM MiB", "VmRSS MiB", "CPU s", "CPU %"], rows))
    out.append("  (the Postgres sum counts shared buffers once per process: an upper bound)")
    return "\n".join(out)


# ---------------------------------------------------------------- main


async def _ready(urls: Mapping[str, str]) -> bool:
    """True when every service answers /ready."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        try:
            return all([(await client.get(f"{u}/ready")).status_code == 200 for u in urls.values()])
        except httpx.HTTPError:
            return False


async def benchmark(manifest: Mapping[str, Any], state_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run the journeys and collect every figure."""
    urls = {name: str(info["url"]) for name, info in manifest["services"].items()}
    probe = KafkaProbe(str(manifest["kafka"]))
    await probe.start()
    try:
        await wait_until_drained(probe.consumer, probe.admin, probe.partitions, args.drain_timeout)
        groups_before = await _committed(probe.admin)
        procs = process_groups(manifest, state_dir)
        cpu_before = cpu_snapshot(procs)
        secret = Path(str(manifest["jwt_secret_file"])).read_text().strip()
        run = await run_journeys(urls, secret, args.applications, args.concurrency, args.timeout)
        drained = await wait_until_drained(probe.consumer, probe.admin, probe.partitions, args.drain_timeout)
        window_end = time.time()
        groups_after = await _committed(probe.admin)
        processes = process_figures(process_groups(manifest, state_dir), cpu_before, run.wall)
        window = (int(run.started_at * 1000), int(window_end * 1000))
        counts = await count_events(probe.consumer, probe.partitions, *window)
    finally:
        await probe.stop()
    wall = run.wall
    consumed = {
        g: sum(off - groups_before[g].get(tp, 0) for tp, off in groups_after[g].items()) for g in CONSUMER_GROUPS
    }
    return {
        "run": {
            "applications": args.applications,
            "concurrency": args.concurrency,
            "wall_seconds": round(wall, 3),
            "completed": len(run.completed),
            "failed": sum(run.failures.values()),
            "failures": dict(run.failures.most_common(5)),
            "completed_per_second": round(len(run.completed) / wall, 2) if wall else 0.0,
        },
        "latency": latency_figures(run.completed),
        "events": {
            "window_seconds": round(window_end - run.started_at, 3),
            "drained": drained,
            "produced": {
                src: {"count": n, "per_second": round(n / wall, 2), "by_type": dict(types)}
                for src, types in sorted(counts.items())
                for n in [sum(types.values())]
            },
            "produced_total": sum(sum(t.values()) for t in counts.values()),
            "consumed": {g: {"count": n, "per_second": round(n / wall, 2)} for g, n in consumed.items()},
        },
        "processes": processes,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.flow", description=__doc__)
    parser.add_argument("--applications", type=int, default=200, help="applications to push through (default 200)")
    parser.add_argument("--concurrency", type=int, default=16, help="journeys in flight at once (default 16)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a journey may wait for any one step")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to wait for Kafka to settle")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.applications < 1 or args.concurrency < 1:
        parser.error("--applications and --concurrency must be at least 1")
    state_dir: Path = args.state_dir.resolve()
    manifest = read_manifest(state_dir / "run" / "platform.json")
    services = manifest.get("services")
    if not isinstance(services, dict) or not asyncio.run(_ready({n: i["url"] for n, i in services.items()})):
        print(NOT_RUNNING, file=sys.stderr)
        return 1
    print(f"benchmark: {args.applications} applications, concurrency {args.concurrency}, platform {state_dir}",
          file=sys.stderr)
    figures = asyncio.run(benchmark(manifest, state_dir, args))
    print(render(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
