"""The flow benchmark's figures: latency percentiles per step, and the text report."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from deploy.local.journey import Journey


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
