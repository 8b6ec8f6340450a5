"""The spans file: one JSON object per span and line, appended by the trace sink, read back by the viewer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

SpanRecord = dict[str, Any]
"""One span as stored in the spans file (one JSON object per line)."""

UNKNOWN_SERVICE: Final = "unknown_service"


def append_records(spans_file: Path, records: Sequence[SpanRecord]) -> None:
    """Append records as JSON lines to ``spans_file`` in a single write, then flush."""
    if not records:
        return
    payload = "".join(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n" for record in records)
    spans_file.parent.mkdir(parents=True, exist_ok=True)
    # One write per request keeps a request's lines contiguous even with concurrent readers.
    with spans_file.open("a", encoding="utf-8") as handle:
        handle.write(payload)
        handle.flush()


def read_spans(spans_file: Path, trace_id: str | None = None) -> list[SpanRecord]:
    """Read span records from ``spans_file`` (optionally only one trace), dropping duplicates."""
    wanted = trace_id.strip().lower() if trace_id is not None else None
    spans: list[SpanRecord] = []
    seen: set[tuple[str, str]] = set()
    with Path(spans_file).open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line still being written by the sink, or hand-edited damage
            if not isinstance(record, dict) or "trace_id" not in record or "span_id" not in record:
                continue
            if wanted is not None and record["trace_id"] != wanted:
                continue
            # An exporter retries a batch whose response it never saw, so the same span can arrive twice.
            key = (record["trace_id"], record["span_id"])
            if key in seen:
                continue
            seen.add(key)
            spans.append(record)
    return spans
