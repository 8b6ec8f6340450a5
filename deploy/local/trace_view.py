"""`make trace`: one trace as an indented tree of spans (read from Zipkin), or a table of traces."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SpanRecord = dict[str, Any]
"""One span: ids, parent, name, service, kind, start and end in ns, status (`zipkin.zipkin_records` makes them)."""

UNKNOWN_SERVICE = "unknown_service"


def _start(span: SpanRecord) -> int:
    """Return a span's start time in ns (0 when missing, so such spans sort first)."""
    return int(span.get("start_unix_nano") or 0)


def _sort_key(span: SpanRecord) -> tuple[int, int, str, str]:
    """Order siblings by start time, then end time, then name and id for a stable output."""
    return (_start(span), int(span.get("end_unix_nano") or 0), str(span.get("name", "")), str(span["span_id"]))


def _duration_ms(span: SpanRecord) -> str:
    """Format a span's duration in milliseconds ('?' while it has no valid end time)."""
    start, end = _start(span), int(span.get("end_unix_nano") or 0)
    if not start or end < start:
        return "? ms"
    return f"{(end - start) / 1e6:.3f} ms"


def _services(spans: Iterable[SpanRecord]) -> list[str]:
    """Return the sorted distinct service names of ``spans``."""
    return sorted({str(span.get("service", UNKNOWN_SERVICE)) for span in spans})


def render_trace(spans: list[SpanRecord]) -> str:
    """Render spans as an indented tree: parents before children, siblings by start time."""
    if not spans:
        raise ValueError("no spans to render")
    by_id: dict[str, SpanRecord] = {str(span["span_id"]): span for span in spans}
    children: dict[str, list[SpanRecord]] = {span_id: [] for span_id in by_id}
    roots: list[SpanRecord] = []
    for span in by_id.values():
        parent = span.get("parent_span_id")
        if parent and parent in children and parent != span["span_id"]:
            children[parent].append(span)
        else:
            roots.append(span)
    trace_ids = sorted({str(span["trace_id"]) for span in by_id.values()})
    services = _services(by_id.values())
    trace_start = min((_start(span) for span in by_id.values() if _start(span)), default=0)
    lines = [
        f"trace {', '.join(trace_ids)}  {len(by_id)} span{'s' if len(by_id) != 1 else ''}  "
        f"services: {', '.join(services)}"
    ]
    root_ids = {str(span["span_id"]) for span in roots}
    visited: set[str] = set()

    def walk(root: SpanRecord) -> None:
        """Emit ``root`` and its descendants depth-first (iterative: deep traces must not recurse)."""
        stack: list[tuple[SpanRecord, int]] = [(root, 0)]
        while stack:
            span, depth = stack.pop()
            span_id = str(span["span_id"])
            if span_id in visited:
                continue
            visited.add(span_id)
            offset = f"+{(_start(span) - trace_start) / 1e6:.3f} ms" if trace_start and _start(span) else "+? ms"
            notes = ""
            if span.get("parent_span_id") and span_id in root_ids:
                # The parent has not been exported (yet): its service may still be batching.
                notes += f"  (parent {span['parent_span_id']} missing)"
            if span.get("status_code") == "ERROR":
                message = span.get("status_message") or ""
                notes += f"  ERROR{': ' + message if message else ''}"
            lines.append(
                f"{'  ' * depth}{span.get('service', UNKNOWN_SERVICE)}  {span.get('name', '')}  "
                f"[{span.get('kind', 'UNKNOWN')}]  {_duration_ms(span)}  @{offset}{notes}"
            )
            # Pushed in reverse so the earliest-starting child is popped, and printed, first.
            for child in sorted(children[span_id], key=_sort_key, reverse=True):
                stack.append((child, depth + 1))

    for root in sorted(roots, key=_sort_key):
        walk(root)
    # Spans caught in a parent cycle (corrupt data) are unreachable from any root; still show them.
    for span in sorted(by_id.values(), key=_sort_key):
        if str(span["span_id"]) not in visited:
            walk(span)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TraceSummary:
    """One line of `list`: a trace's id, root span name, span count, services and time span."""

    trace_id: str
    root_name: str
    span_count: int
    services: tuple[str, ...]
    start_unix_nano: int


def summarize_traces(spans: Iterable[SpanRecord]) -> list[TraceSummary]:
    """Group spans by trace and summarise each trace, most recently started first."""
    traces: dict[str, list[SpanRecord]] = {}
    for span in spans:
        traces.setdefault(str(span["trace_id"]), []).append(span)
    summaries: list[TraceSummary] = []
    for trace_id, members in traces.items():
        ids = {str(span["span_id"]) for span in members}
        roots = [span for span in members if not span.get("parent_span_id") or span["parent_span_id"] not in ids]
        true_roots = [span for span in roots if not span.get("parent_span_id")]
        # Prefer the real root; otherwise the earliest orphan (the root's service has not flushed yet).
        root = min(true_roots or roots or members, key=_sort_key)
        root_name = str(root.get("name", "")) if true_roots else f"{root.get('name', '')} (root missing)"
        summaries.append(
            TraceSummary(
                trace_id=trace_id,
                root_name=root_name,
                span_count=len(members),
                services=tuple(_services(members)),
                start_unix_nano=min(_start(span) for span in members),
            )
        )
    summaries.sort(key=lambda summary: (summary.start_unix_nano, summary.trace_id), reverse=True)
    return summaries


def render_trace_list(summaries: Sequence[TraceSummary]) -> str:
    """Render trace summaries as a table: trace id, span count, root span name, services."""
    # Services go last: their list can be long, and everything before it stays aligned.
    root_width = max([len("ROOT"), *(len(summary.root_name) for summary in summaries)])
    lines = [f"{'TRACE_ID':32}  {'SPANS':>5}  {'ROOT':{root_width}}  SERVICES"]
    for summary in summaries:
        lines.append(
            f"{summary.trace_id:32}  {summary.span_count:>5}  {summary.root_name:{root_width}}  "
            f"{','.join(summary.services)}"
        )
    return "\n".join(lines) + "\n"
