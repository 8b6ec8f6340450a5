"""`make logs TRACE=<id>`: every log line of one trace, across the processes of the local platform, in time order.

Each process writes JSON lines (`shared.telemetry.configure_logging`) to its own file under `.local/run/`;
a line that is not JSON (a crash's traceback, a server's own output) is never part of a trace.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def trace_lines(files: Iterable[Path], trace_id: str) -> list[dict[str, Any]]:
    """The JSON log records of `trace_id` in `files`, oldest first."""
    wanted = trace_id.strip().lower()
    found = [record for path in files for record in _records(path) if record.get("trace_id") == wanted]
    return sorted(found, key=lambda record: str(record.get("time", "")))


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record


def render(records: list[dict[str, Any]]) -> str:
    """One line per record: time, service, level, logger, message (and an exception's text, indented)."""
    out = []
    for r in records:
        out.append(f"{r.get('time', '?')}  {r.get('service', '?'):<13} {r.get('level', '?'):<7} {r.get('logger', '?')}: {r.get('message', '')}")
        if r.get("exc_info"):
            out.extend("    " + line for line in str(r["exc_info"]).splitlines())
    return "\n".join(out)


def show(run_dir: Path, trace_id: str | None) -> int:
    """Print the trace's lines from every `*.log` of `run_dir`; exit status."""
    if not trace_id:
        print("which trace? make logs TRACE=<id> (`make demo` prints one; each page of the workspace shows its own)")
        return 1
    records = trace_lines(sorted(run_dir.glob("*.log")), trace_id)
    if not records:
        print(f"no log line of trace {trace_id} in {run_dir}/*.log")
        return 1
    print(render(records))
    return 0
