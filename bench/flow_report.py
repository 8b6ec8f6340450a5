"""The flow benchmark's figures: latency percentiles per step, and the text report."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from deploy.local.journey import Journey
from shared.metrics import TRANSACTION_PHASES


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(values: Sequence[float], *qs: float) -> dict[str, float | None]:
    """Percentiles `qs` of durations in seconds, in milliseconds (`p100` is the max)."""
    out: dict[str, float | None] = {}
    for q in qs:
        p = percentile(values, q)
        out["max" if q == 100 else f"p{q:g}"] = None if p is None else round(p * 1000, 1)
    return out


def latency_figures(journeys: Sequence[Journey]) -> dict[str, Any]:
    """End-to-end latency; per step, time since submission and time spent in the step; per HTTP command, its answer time (ms)."""
    end_to_end = ms([j.latency for j in journeys], 50, 95, 99, 100)
    steps: dict[str, dict[str, dict[str, float | None]]] = {}
    names = list(journeys[0].steps) if journeys else []
    for idx, name in enumerate(names):
        at = [j.steps[name] for j in journeys]
        spent = [j.steps[name] - (j.steps[names[idx - 1]] if idx else 0.0) for j in journeys]
        steps[name] = {"since_submission": ms(at, 50, 95, 99), "in_step": ms(spent, 50, 95, 99)}
    calls = {name: ms([j.calls[name] for j in journeys if name in j.calls], 50, 95, 99, 100)
             for name in (journeys[0].calls if journeys else {})}
    return {"end_to_end_ms": end_to_end, "steps": steps, "calls": calls}


def report(figures: dict[str, Any], render: Callable[[dict[str, Any]], str], json_path: Path | None) -> None:
    """Add the load average to `figures`, print their report, and write them as JSON to `json_path` when given."""
    figures["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(render(figures))
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    ]
    return "\n".join(lines)


def _hop_rows(hops: Mapping[str, Any]) -> list[list[object]]:
    return [[name, h["count"], h["from_commit"]["p50"], h["from_commit"]["p95"], h["from_commit"]["p99"], h["from_commit"]["max"],
             h["from_kafka"]["p50"], h["from_kafka"]["p99"]] for name, h in hops.items()]


HOP_HEADERS = ["hop (cause → effect)", "pairs", "p50", "p95", "p99", "max", "Kafka→Kafka p50", "p99"]


PHASE_HEADERS = ["group", "transactions", "records", "from Kafka", *TRANSACTION_PHASES, "transaction"]


def phase_rows(phases: Mapping[str, Mapping[str, Any]]) -> list[list[object]]:
    """One row per consumer group of `bench.phases.phase_figures`: its phases' means and their sum, a transaction's."""
    rows: list[list[object]] = []
    for group, row in phases.items():
        each = [row.get(f"{p}_ms", 0.0) for p in TRANSACTION_PHASES]
        rows.append([group, row["transactions"], row.get("records"), row.get("from_kafka_ms"), *each, round(sum(each), 2)])
    return rows


SATURATED_PERCENT = 95  # the cores' busy share from which the CPU per journey is the journeys' own


def render(figures: Mapping[str, Any]) -> str:
    """The human-readable report."""
    run, lat = figures["run"], figures["latency"]
    pace = f"open loop, {run['rate']:g} journeys/s (at most {run['most_in_flight']} in flight)" if run.get("rate") \
        else f"concurrency {run['concurrency']}"
    out = [
        f"applications {run['applications']}, {pace}; each journey ends at the counsellor's alert of the disbursement",
        f"wall time          {run['wall_seconds']:.2f} s",
        f"completed          {run['completed']}   ({run['completed_per_second']:.1f} applications/s)",
        f"failed             {run['failed']}",
    ]
    out += [f"  {count} × {reason}" for reason, count in run["failures"].items()]
    e2e = lat["end_to_end_ms"]
    out += ["", "end-to-end latency, submission → counsellor alert (ms)"]
    out.append(table(["", "p50", "p95", "p99", "max"], [["latency", e2e["p50"], e2e["p95"], e2e["p99"], e2e["max"]]]))
    out += ["", "HTTP commands: time to answer (ms)"]
    out.append(table(["command", "p50", "p95", "p99", "max"], [[n, c["p50"], c["p95"], c["p99"], c["max"]] for n, c in lat["calls"].items()]))
    out += ["", "journey steps (ms): time in the step since the previous one; an event's effect is read over HTTP with `Prefer: wait`, answered once it is there"]
    rows = [[name, s["in_step"]["p50"], s["in_step"]["p95"], s["in_step"]["p99"], s["since_submission"]["p50"], s["since_submission"]["p99"]]
            for name, s in lat["steps"].items()]
    out.append(table(["step", "step p50", "step p95", "step p99", "at p50", "at p99"], rows))
    ev = figures["events"]
    out += ["", "event hops from Kafka (ms): the cause committed (envelope time) → the effect's record timestamp; "
                "Kafka→Kafka: from the cause's record timestamp"]
    out.append(table(HOP_HEADERS, _hop_rows(ev["hops"])) if ev["hops"] else "  (no cause/effect pair found)")
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
    if figures.get("phases"):
        out += ["", "where each consumer group's time went during the journeys (the services' own metrics, mean ms): from Kafka ="
                    " a record's Kafka timestamp to the start of its fetch; then each transaction's phases, most of them one"
                    " database round trip"]
        out.append(table(PHASE_HEADERS, phase_rows(figures["phases"])))
    cob = figures.get("close_of_business")
    if cob:
        out += ["", f"one close of business for the whole batch (business date {cob['business_date']}), after the journeys"]
        if "error" in cob:
            out.append(f"  failed: {cob['error']}")
        else:
            out.append(f"  answered in {cob['seconds']:.2f} s: {cob['loans_visited']} loans visited (every loan of the platform,"
                       f" earlier runs' too), {cob['missed_instalments']} instalments missed; events drained"
                       f" {cob['drained_seconds']:.2f} s after the request")
            out.append(table(HOP_HEADERS, _hop_rows(cob["hops"])) if cob["hops"] else "  (no cause/effect pair found)")
    out += ["", "processes (VmHWM = peak resident memory since the process started; CPU = during the journeys)"]
    rows = [[label, " ".join(map(str, p["pids"])) if len(p["pids"]) <= 2 else f"{len(p['pids'])} pids",
             f"{p['vm_hwm_mib']:.1f}", f"{p['vm_rss_mib']:.1f}", f"{p['cpu_seconds']:.2f}", p["cpu_percent_of_wall"]]
            for label, p in figures["processes"].items()]
    out.append(table(["process", "pid", "VmHWM MiB", "VmRSS MiB", "CPU s", "CPU %"], rows))
    out.append("  (the Postgres sum counts shared buffers once per process: an upper bound)")
    cpu = figures.get("cpu")
    if cpu:
        out.append(
            f"the machine's {cpu['cores']} cores were busy {cpu['busy_percent']:.0f} % of the journeys' wall time:"
            f" {cpu['cpu_ms_per_journey']:.1f} ms of CPU per journey (every process, this client included), so its CPU"
            f" allows at most {cpu['journeys_per_second_at_most']:.1f} journeys/s ({cpu['events_per_second_at_most']:.0f} events/s)"
        )
        if cpu["busy_percent"] < SATURATED_PERCENT:
            out.append("  (the cores had time to spare: that CPU includes what the platform does on its own meanwhile, e-mails,"
                       " timers, scrapes, and the consumers' batches were smaller, so the ceiling is understated; it is the"
                       " throughput only when the cores are busy all the time)")
    alone = figures.get("kafka_alone")
    if alone:
        reached = figures["events"]["produced_total"] / run["wall_seconds"] if run["wall_seconds"] else 0.0
        out += ["", "the raw ceiling, measured after the journeys (bench/fanout.py): the same number of journeys' records, as many at a"
                    " time, through Kafka alone — written as the relays write them, read by a bare consumer in each of the"
                    " platform's groups, no database, no HTTP, no handler",
                f"  Kafka alone: {alone['events_per_second']:.1f} events/s, {alone['machine_cpu_ms_per_journey']:.1f} ms of CPU per"
                f" journey (the broker {alone['cpu_ms_per_journey'].get('kafka broker', 0.0):.1f} ms); the journeys reached"
                f" {reached:.1f} events/s, {reached / alone['events_per_second']:.2f} × that"]
        out += [f"  Kafka alone, {name} (Kafka→Kafka): p50 {h['p50']} ms, p99 {h['p99']} ms" for name, h in alone["hops"].items()]
    out.append(f"load average at the end: {figures.get('load', '?')}")
    return "\n".join(out)
