"""A tiny local OTLP/HTTP trace collector that appends spans to a JSON-lines file, plus a text viewer."""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

SpanRecord = dict[str, Any]
"""One span as stored in the spans file (one JSON object per line)."""

TRACES_PATH: Final = "/v1/traces"
PROTOBUF_TYPES: Final = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPE: Final = "application/json"
# Caps the *decompressed* body so a small gzip bomb cannot exhaust memory of a dev machine.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
UNKNOWN_SERVICE: Final = "unknown_service"
_TRACE_ID_BYTES: Final = 16
_SPAN_ID_BYTES: Final = 8
_ID_KEYS: Final = {
    "traceId": _TRACE_ID_BYTES,
    "trace_id": _TRACE_ID_BYTES,
    "spanId": _SPAN_ID_BYTES,
    "span_id": _SPAN_ID_BYTES,
    "parentSpanId": _SPAN_ID_BYTES,
    "parent_span_id": _SPAN_ID_BYTES,
}


class BadRequest(Exception):
    """A request body that is not a decodable OTLP trace export (answered with a 4xx)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


# --------------------------------------------------------------------------- decoding


def _media_type(content_type: str | None) -> str:
    """Return the bare, lower-cased media type of a Content-Type header ('' if absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _decompress(body: bytes, content_encoding: str | None) -> bytes:
    """Undo the Content-Encoding (identity, gzip or deflate), refusing oversized results."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest("body too large", 413)
        return body
    if encoding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        # The OTel Python exporter sends zlib-wrapped data for "deflate"; +32 also accepts gzip.
        wbits = 32 + zlib.MAX_WBITS
    else:
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}", 415)
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(body, MAX_BODY_BYTES)
    except zlib.error as exc:
        raise BadRequest(f"invalid {encoding} body: {exc}") from exc
    if decompressor.unconsumed_tail:
        raise BadRequest("decompressed body too large", 413)
    if not decompressor.eof:
        raise BadRequest(f"truncated {encoding} body")
    return data


def _hex_ids_to_base64(node: Any) -> Any:
    """Rewrite OTLP/JSON hex trace/span ids into the base64 form protobuf's JSON parser expects."""
    # OTLP/JSON deviates from the proto3 JSON mapping: ids are hex, not base64. The lengths tell
    # the two apart unambiguously (hex: 32/16 chars, base64: 24/12), so base64 ids from
    # non-conforming senders (e.g. json_format.MessageToJson) still pass through untouched.
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        size = _ID_KEYS.get(key)
        if size is not None and isinstance(value, str) and len(value) == 2 * size:
            try:
                value = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except ValueError:
                pass  # not hex: let the protobuf parser judge it as base64
        converted[key] = _hex_ids_to_base64(value)
    return converted


def decode_export_request(body: bytes, content_type: str | None) -> tuple[ExportTraceServiceRequest, bool]:
    """Parse an (already decompressed) OTLP trace export body; return it and whether it was JSON."""
    media_type = _media_type(content_type)
    request = ExportTraceServiceRequest()
    if media_type in PROTOBUF_TYPES:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise BadRequest("body is not an OTLP ExportTraceServiceRequest protobuf") from exc
        # Garbage occasionally parses as nothing but unknown fields; a real exporter never sends that.
        if body and not request.resource_spans:
            raise BadRequest("protobuf body holds no resourceSpans")
        return request, False
    if media_type == JSON_TYPE:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BadRequest("body is not valid JSON") from exc
        if not isinstance(document, dict):
            raise BadRequest("OTLP/JSON body must be a JSON object")
        try:
            # The OTLP spec requires receivers to ignore unknown JSON fields (forward compatibility).
            json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
            raise BadRequest(f"body is not an OTLP/JSON ExportTraceServiceRequest: {exc}") from exc
        return request, True
    raise BadRequest(
        f"unsupported Content-Type {media_type or '(none)'!r}; "
        "use application/x-protobuf or application/json",
        415,
    )


# --------------------------------------------------------------------------- conversion


def _any_value_to_json(value: AnyValue) -> Any:
    """Turn an OTLP AnyValue into a plain JSON-serialisable Python value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        # NaN/Infinity are not valid JSON; keep them readable instead of breaking the line.
        return number if math.isfinite(number) else str(number)
    if kind == "array_value":
        return [_any_value_to_json(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes_to_json(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return None


def _attributes_to_json(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """Turn repeated OTLP KeyValue pairs into a dict (a later duplicate key wins)."""
    return {item.key: _any_value_to_json(item.value) for item in attributes}


def _id_hex(raw: bytes, size: int, what: str) -> str:
    """Hex-encode a trace/span id, rejecting ids of the wrong length or all zeros."""
    if len(raw) != size or not any(raw):
        raise BadRequest(f"invalid {what} {raw.hex()!r}: expected {size} non-zero bytes")
    return raw.hex()


def _enum_suffix(name: str, prefix: str) -> str:
    """Strip an OTLP enum prefix: SPAN_KIND_SERVER -> SERVER, STATUS_CODE_ERROR -> ERROR."""
    return name[len(prefix) :] if name.startswith(prefix) else name


def _span_kind(kind: int) -> str:
    """Return the short name of a span kind number ('UNKNOWN' for values this proto lacks)."""
    try:
        return _enum_suffix(Span.SpanKind.Name(kind), "SPAN_KIND_")  # type: ignore[arg-type]
    except ValueError:
        return "UNKNOWN"


def _status_code(code: int) -> str:
    """Return the short name of a status code number ('UNKNOWN' for values this proto lacks)."""
    try:
        return _enum_suffix(Status.StatusCode.Name(code), "STATUS_CODE_")  # type: ignore[arg-type]
    except ValueError:
        return "UNKNOWN"


def request_to_records(request: ExportTraceServiceRequest) -> list[SpanRecord]:
    """Flatten an export request into one record per span (raises BadRequest on invalid ids)."""
    records: list[SpanRecord] = []
    for resource_spans in request.resource_spans:
        resource_attributes = _attributes_to_json(resource_spans.resource.attributes)
        service = resource_attributes.get("service.name")
        service_name = service if isinstance(service, str) and service else UNKNOWN_SERVICE
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                parent = span.parent_span_id
                records.append(
                    {
                        "trace_id": _id_hex(span.trace_id, _TRACE_ID_BYTES, "trace_id"),
                        "span_id": _id_hex(span.span_id, _SPAN_ID_BYTES, "span_id"),
                        "parent_span_id": _id_hex(parent, _SPAN_ID_BYTES, "parent_span_id") if parent else None,
                        "name": span.name,
                        "kind": _span_kind(span.kind),
                        "service": service_name,
                        "scope": scope_spans.scope.name,
                        "start_unix_nano": span.start_time_unix_nano,
                        "end_unix_nano": span.end_time_unix_nano,
                        "attributes": _attributes_to_json(span.attributes),
                        "status_code": _status_code(span.status.code),
                        "status_message": span.status.message,
                    }
                )
    return records


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


# --------------------------------------------------------------------------- ASGI app


def create_sink_app(spans_file: Path) -> Starlette:
    """Build the ASGI app that accepts OTLP/HTTP trace exports and appends spans to ``spans_file``."""
    spans_file = Path(spans_file)

    async def export_traces(request: Request) -> Response:
        """Handle POST /v1/traces: decode, append one line per span, answer an empty response."""
        body = await request.body()
        try:
            data = _decompress(body, request.headers.get("content-encoding"))
            export_request, is_json = decode_export_request(data, request.headers.get("content-type"))
            records = request_to_records(export_request)
        except BadRequest as exc:
            return PlainTextResponse(str(exc) + "\n", status_code=exc.status_code)
        # Written synchronously on the event loop on purpose: no await between open and write, so
        # concurrent requests cannot interleave lines; the files are small in local development.
        append_records(spans_file, records)
        response = ExportTraceServiceResponse()
        if is_json:
            return Response(json_format.MessageToJson(response), media_type=JSON_TYPE)
        return Response(response.SerializeToString(), media_type="application/x-protobuf")

    return Starlette(routes=[Route(TRACES_PATH, export_traces, methods=["POST"])])


# --------------------------------------------------------------------------- reading & rendering


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


# --------------------------------------------------------------------------- CLI


def _build_parser() -> argparse.ArgumentParser:
    """Build the argument parser for the serve/show/list sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m deploy.local.tracesink", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="accept OTLP/HTTP trace exports and append spans to a file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4318)
    serve.add_argument("--file", type=Path, required=True, help="JSON-lines spans file (appended to)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    show = commands.add_parser("show", help="print one trace as an indented tree")
    show.add_argument("trace_id")
    show.add_argument("--file", type=Path, required=True)

    listing = commands.add_parser("list", help="list the most recent traces")
    listing.add_argument("--file", type=Path, required=True)
    listing.add_argument("--limit", type=int, default=20, help="how many traces to show (default 20)")
    return parser


def _serve(host: str, port: int, spans_file: Path, log_level: str) -> int:
    """Run the sink with uvicorn until interrupted."""
    import uvicorn  # imported here so show/list stay fast and work without a server stack

    print(
        f"tracesink: OTLP/HTTP endpoint http://{host}:{port} (traces at {TRACES_PATH}), "
        f"appending spans to {spans_file}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(create_sink_app(spans_file), host=host, port=port, log_level=log_level)
    return 0


def _load(spans_file: Path, trace_id: str | None = None) -> list[SpanRecord] | None:
    """Read spans for the CLI, printing a hint and returning None when the file is missing."""
    try:
        return read_spans(spans_file, trace_id)
    except FileNotFoundError:
        print(f"tracesink: no spans file at {spans_file} (has the sink received anything?)", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m deploy.local.tracesink`; returns the process exit code."""
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args.host, args.port, args.file, args.log_level)
    if args.command == "show":
        spans = _load(args.file, args.trace_id)
        if spans is None:
            return 1
        if not spans:
            print(
                f"tracesink: trace {args.trace_id} not found in {args.file} "
                "(use `list` to see known traces; a service may not have flushed yet)",
                file=sys.stderr,
            )
            return 1
        sys.stdout.write(render_trace(spans))
        return 0
    spans = _load(args.file)
    if spans is None:
        return 1
    if not spans:
        print(f"tracesink: no spans in {args.file} yet", file=sys.stderr)
        return 0
    sys.stdout.write(render_trace_list(summarize_traces(spans)[: max(args.limit, 0)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
