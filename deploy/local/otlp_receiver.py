"""The trace sink's OTLP/HTTP receiver: decode trace exports (protobuf or JSON, gzip or deflate) into span records."""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Iterable
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

from deploy.local.span_store import UNKNOWN_SERVICE, SpanRecord, append_records

TRACES_PATH: Final = "/v1/traces"
PROTOBUF_TYPES: Final = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPE: Final = "application/json"
# Caps the *decompressed* body so a small gzip bomb cannot exhaust memory of a dev machine.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
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
