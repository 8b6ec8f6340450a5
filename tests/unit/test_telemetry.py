"""Where spans go (OpenTelemetry's standard variables), what a log line carries, and how ops read them back."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from deploy.local.logs import render, trace_lines
from deploy.local.trace_view import render_trace
from deploy.local.zipkin import zipkin_records
from shared.telemetry import UnknownExporter, configure_logging, create_tracer_provider, span_exporters


def test_the_standard_variables_choose_the_exporter() -> None:
    zipkin = span_exporters(None, {"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://z:9411/api/v2/spans"})
    assert [type(e) for e in zipkin] == [ZipkinExporter] and zipkin[0].endpoint == "http://z:9411/api/v2/spans"
    both = span_exporters("http://jaeger:4318", {"OTEL_TRACES_EXPORTER": "otlp, console"})
    assert [type(e) for e in both] == [OTLPSpanExporter, ConsoleSpanExporter]
    assert both[0]._endpoint == "http://jaeger:4318/v1/traces"
    standard = span_exporters("http://jaeger:4318", {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://mine:4318"})
    assert standard[0]._endpoint == "http://mine:4318/v1/traces", "the standard variable wins over the service's setting"
    assert [type(e) for e in span_exporters("http://jaeger:4318", {})] == [OTLPSpanExporter], "compose: the service's OTLP setting"
    assert span_exporters(None, {}) == [] and span_exporters("http://jaeger:4318", {"OTEL_TRACES_EXPORTER": "none"}) == []
    with pytest.raises(UnknownExporter):
        span_exporters(None, {"OTEL_TRACES_EXPORTER": "jaeger-thrift"})


def test_a_log_line_is_json_with_the_trace_and_span_it_was_written_in() -> None:
    configure_logging("intake")
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    provider = create_tracer_provider("intake", environ={"OTEL_TRACES_EXPORTER": "none"})
    with provider.get_tracer("t").start_as_current_span("work") as span:
        logging.getLogger("services.intake").info("dossier %s ouvert", "n° 1")
        context = span.get_span_context()
    logging.getLogger("services.intake").info("hors trace")
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["message"] == "dossier n° 1 ouvert" and inside["service"] == "intake" and inside["level"] == "INFO"
    assert (inside["trace_id"], inside["span_id"]) == (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    assert outside["trace_id"] is None and outside["time"] > inside["time"]


def test_make_logs_gathers_one_traces_lines_from_every_process_in_time_order(tmp_path: Path) -> None:
    trace = "ab" * 16
    (tmp_path / "intake.log").write_text("\n".join([
        json.dumps({"time": "2026-11-30T10:00:00.200000+00:00", "service": "intake", "level": "INFO", "logger": "a", "message": "second", "trace_id": trace}),
        "Traceback (most recent call last): not JSON",
        json.dumps({"time": "2026-11-30T10:00:00.100000+00:00", "service": "intake", "level": "INFO", "logger": "a", "message": "other", "trace_id": "cd" * 16}),
    ]) + "\n")
    (tmp_path / "servicing.log").write_text(json.dumps(
        {"time": "2026-11-30T10:00:00.100000+00:00", "service": "servicing", "level": "ERROR", "logger": "b", "message": "first",
         "trace_id": trace, "exc_info": "Traceback\nValueError: x"}) + "\n")
    records = trace_lines(sorted(tmp_path.glob("*.log")), trace.upper())
    assert [r["message"] for r in records] == ["first", "second"]
    assert "servicing     ERROR   b: first\n    Traceback\n    ValueError: x" in render(records)


def test_a_zipkin_trace_is_printed_as_a_tree() -> None:
    zipkin = [
        {"traceId": "t" * 32, "id": "b" * 16, "parentId": "a" * 16, "name": "microcredit.applications.v1 publish", "kind": "PRODUCER",
         "timestamp": 1_000_100, "duration": 50, "localEndpoint": {"serviceName": "intake"}},
        {"traceId": "t" * 32, "id": "a" * 16, "name": "post /applications", "kind": "SERVER", "timestamp": 1_000_000, "duration": 300,
         "localEndpoint": {"serviceName": "intake"}, "tags": {"error": "boom"}},
    ]
    tree = render_trace(zipkin_records(zipkin)).splitlines()
    assert tree[1].startswith("intake  post /applications  [SERVER]  0.300 ms")
    assert tree[2].startswith("  intake  microcredit.applications.v1 publish  [PRODUCER]  0.050 ms  @+0.100 ms")
