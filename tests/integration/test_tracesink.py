"""Tests of the local OTLP trace sink: real OTLP/HTTP exports into a real uvicorn process."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from deploy.local.ports import find_free_port, is_port_open
from deploy.local.span_store import read_spans
from deploy.local.trace_view import render_trace

REPO_ROOT = Path(__file__).resolve().parents[2]
SINK_MODULE = "deploy.local.tracesink"


@dataclass(frozen=True)
class Sink:
    """A running sink process: where to export to and where it writes spans."""

    endpoint: str
    spans_file: Path


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the tracesink CLI in a subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", SINK_MODULE, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _line_count(path: Path) -> int:
    """Count lines of ``path`` (0 when it does not exist yet)."""
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    """Start `python -m deploy.local.tracesink serve` on a free port; stop it afterwards."""
    spans_file = tmp_path_factory.mktemp("tracesink") / "spans.jsonl"
    log_file = spans_file.with_suffix(".log")
    port = find_free_port()
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", SINK_MODULE, "serve", "--port", str(port), "--file", str(spans_file),
             "--log-level", "warning"],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not is_port_open(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tracesink did not start (exit {process.poll()}):\n{log_file.read_text()}")
            time.sleep(0.05)
        yield Sink(endpoint=f"http://127.0.0.1:{port}/v1/traces", spans_file=spans_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _provider(service: str, endpoint: str, compression: Compression) -> TracerProvider:
    """A tracer provider for ``service`` exporting through the real OTLP/HTTP exporter."""
    # A private session ignores HTTP(S)_PROXY from the environment, which would hijack 127.0.0.1.
    session = requests.Session()
    session.trust_env = False
    exporter = OTLPSpanExporter(endpoint=endpoint, compression=compression, session=session, timeout=10)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    return provider


@pytest.mark.integration
def test_trace_across_two_services_is_collected_and_rendered(sink: Sink) -> None:
    """A parent span in service A and its child in service B (linked via traceparent) form one trace."""
    provider_a = _provider("loan-service", sink.endpoint, Compression.NoCompression)
    provider_b = _provider("payment-service", sink.endpoint, Compression.Gzip)  # exercises gzip decoding
    propagator = TraceContextTextMapPropagator()
    try:
        carrier: dict[str, str] = {}
        with provider_a.get_tracer("test").start_as_current_span(
            "POST /loans", kind=SpanKind.SERVER, attributes={"http.status_code": 201, "loan.ok": True}
        ) as parent:
            propagator.inject(carrier)  # what the outbox puts into the Kafka message headers
        with provider_b.get_tracer("test").start_as_current_span(
            "consume loan.approved",
            context=propagator.extract(carrier),
            kind=SpanKind.CONSUMER,
            attributes={"amount": 12.5, "tags": ["a", "b"]},
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
        assert provider_a.force_flush(10_000)
        assert provider_b.force_flush(10_000)
    finally:
        provider_a.shutdown()
        provider_b.shutdown()

    trace_id = format(parent.get_span_context().trace_id, "032x")
    spans = read_spans(sink.spans_file, trace_id)
    by_name = {span["name"]: span for span in spans}
    assert set(by_name) == {"POST /loans", "consume loan.approved"}
    server, consumer = by_name["POST /loans"], by_name["consume loan.approved"]
    assert server["trace_id"] == consumer["trace_id"] == trace_id
    assert server["span_id"] == format(parent.get_span_context().span_id, "016x")
    assert server["parent_span_id"] is None
    assert consumer["parent_span_id"] == server["span_id"]
    assert (server["service"], server["kind"]) == ("loan-service", "SERVER")
    assert (consumer["service"], consumer["kind"], consumer["status_code"]) == ("payment-service", "CONSUMER", "ERROR")
    assert server["attributes"] == {"http.status_code": 201, "loan.ok": True}
    assert consumer["attributes"] == {"amount": 12.5, "tags": ["a", "b"]}
    assert 0 < server["start_unix_nano"] <= server["end_unix_nano"]

    rendered = render_trace(spans)
    assert trace_id in rendered and "2 spans" in rendered
    assert "loan-service" in rendered and "payment-service" in rendered
    parent_line, child_line = rendered.splitlines()[1:3]
    assert parent_line.startswith("loan-service  POST /loans  [SERVER]")
    assert child_line.startswith("  payment-service  consume loan.approved  [CONSUMER]")

    shown = _run_cli("show", trace_id, "--file", str(sink.spans_file))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == rendered
    listed = _run_cli("list", "--file", str(sink.spans_file))
    assert listed.returncode == 0, listed.stderr
    assert any(
        line.startswith(trace_id) and "POST /loans" in line and line.endswith("loan-service,payment-service")
        for line in listed.stdout.splitlines()
    ), listed.stdout
    unknown = _run_cli("show", "0" * 31 + "1", "--file", str(sink.spans_file))
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr


@pytest.mark.integration
def test_otlp_json_export_with_hex_ids(sink: Sink) -> None:
    """OTLP/JSON (hex ids, camelCase, enum numbers) is accepted and answered with JSON."""
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "ledger"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "post entry",
                                "kind": 4,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [{"key": "n", "value": {"intValue": "3"}}],
                                "status": {"code": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    with httpx.Client(trust_env=False) as client:
        response = client.post(sink.endpoint, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    [span] = read_spans(sink.spans_file, trace_id.upper())
    assert (span["span_id"], span["parent_span_id"]) == (span_id, "eee19b7ec3c1b173")
    assert (span["service"], span["kind"], span["status_code"]) == ("ledger", "PRODUCER", "OK")
    assert span["attributes"] == {"n": 3}
    assert span["end_unix_nano"] - span["start_unix_nano"] == 1_000_000_000


@pytest.mark.integration
@pytest.mark.parametrize(
    ("content_type", "content_encoding", "body", "status"),
    [
        ("application/x-protobuf", None, b"this is not protobuf", 400),
        ("application/x-protobuf", None, b"\x08\x01", 400),  # parses, but only as unknown fields
        ("application/x-protobuf", "gzip", b"not gzip at all", 400),
        ("application/x-protobuf", "gzip", gzip.compress(b"\xff" * 10), 400),
        ("application/x-protobuf", "br", b"whatever", 415),
        ("application/json", None, b"{not json", 400),
        ("application/json", None, b"[1, 2]", 400),
        ("application/json", None, b'{"resourceSpans": 5}', 400),
        ("application/json", None, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abc"}]}]}]}', 400),
        ("text/plain", None, b"hello", 415),
        (None, None, b"hello", 415),
    ],
)
def test_garbage_bodies_get_4xx(
    sink: Sink, content_type: str | None, content_encoding: str | None, body: bytes, status: int
) -> None:
    """Undecodable requests are refused with a 4xx and a short message, and write nothing."""
    headers = {key: value for key, value in
               {"content-type": content_type, "content-encoding": content_encoding}.items() if value}
    before = _line_count(sink.spans_file)
    with httpx.Client(trust_env=False) as client:
        response = client.post(sink.endpoint, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.text.strip()
    assert _line_count(sink.spans_file) == before


def _span(span_id: str, parent: str | None, name: str, start: int, service: str = "svc") -> dict[str, object]:
    """A minimal span record as the sink writes it (``start`` in ms after a fixed epoch instant)."""
    base = 1_700_000_000_000_000_000  # OTLP treats 0 as "unset", so offsets need a real instant
    return {
        "trace_id": "ab" * 16,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "kind": "INTERNAL",
        "service": service,
        "start_unix_nano": base + start * 1_000_000,
        "end_unix_nano": base + (start + 2) * 1_000_000,
        "attributes": {},
        "status_code": "UNSET",
    }


@pytest.mark.unit
def test_render_trace_orders_parents_before_children_and_siblings_by_start() -> None:
    """Input order does not matter: the tree is depth-first, siblings sorted by start time."""
    spans = [
        _span("0000000000000004", "0000000000000002", "grandchild", 15, "b"),
        _span("0000000000000003", "0000000000000001", "late child", 30, "c"),
        _span("0000000000000002", "0000000000000001", "early child", 10, "b"),
        _span("0000000000000001", None, "root", 0, "a"),
        _span("0000000000000005", "00000000000000ff", "orphan", 50, "d"),
    ]
    lines = render_trace(spans).splitlines()
    assert lines[0] == f"trace {'ab' * 16}  5 spans  services: a, b, c, d"
    assert [line.split("[")[0].rstrip() for line in lines[1:]] == [
        "a  root",
        "  b  early child",
        "    b  grandchild",
        "  c  late child",
        "d  orphan",
    ]
    assert "2.000 ms" in lines[1] and "@+10.000 ms" in lines[2]
    assert lines[5].endswith("(parent 00000000000000ff missing)")
