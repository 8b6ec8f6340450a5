"""OpenTelemetry setup: a tracer provider per process whose exporter OpenTelemetry's standard variables choose;
JSON log lines that carry the trace and span ids.

`OTEL_TRACES_EXPORTER` (`otlp`, `zipkin`, `console`, `none`, or several, comma-separated) picks the exporter;
each reads its own standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
`OTEL_EXPORTER_ZIPKIN_ENDPOINT`, …); `OTEL_SERVICE_NAME` renames the service; `OTEL_TRACES_SAMPLER` and
`OTEL_TRACES_SAMPLER_ARG` sample, as the SDK reads them. Without `OTEL_TRACES_EXPORTER`, a service's
`<PREFIX>_OTLP_ENDPOINT` setting (compose's Jaeger) means OTLP/HTTP there, and nothing else is exported.
"""

from __future__ import annotations

import logging
import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from pythonjsonlogger.json import JsonFormatter


class UnknownExporter(ValueError):
    """`OTEL_TRACES_EXPORTER` names an exporter this platform does not carry."""


def span_exporters(otlp_endpoint: str | None, environ: dict[str, str] | None = None) -> list[SpanExporter]:
    """The exporters `OTEL_TRACES_EXPORTER` names (or OTLP to `otlp_endpoint` when it names none)."""
    env = os.environ if environ is None else environ
    chosen = env.get("OTEL_TRACES_EXPORTER") or ("otlp" if otlp_endpoint else "none")
    exporters: list[SpanExporter] = []
    for name in (part.strip().lower() for part in chosen.split(",") if part.strip()):
        if name == "otlp":
            # The standard variables win (the traces' own endpoint as it is, the base one + /v1/traces);
            # the service's own setting is the fallback.
            base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or otlp_endpoint
            endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (base.rstrip("/") + "/v1/traces" if base else None)
            exporters.append(OTLPSpanExporter(endpoint=endpoint))
        elif name == "zipkin":
            # OTEL_EXPORTER_ZIPKIN_ENDPOINT, by default http://localhost:9411/api/v2/spans
            exporters.append(ZipkinExporter(endpoint=env.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT")))
        elif name == "console":
            exporters.append(ConsoleSpanExporter(out=sys.stderr))
        elif name != "none":
            raise UnknownExporter(f"OTEL_TRACES_EXPORTER names {name!r}: use otlp, zipkin, console or none")
    return exporters


def create_tracer_provider(
    service_name: str, otlp_endpoint: str | None = None, environ: dict[str, str] | None = None
) -> TracerProvider:
    """A provider for `service_name` (or `OTEL_SERVICE_NAME`), exporting where the environment (or `environ`) says."""
    env = os.environ if environ is None else environ
    name = env.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))  # the sampler: OTEL_TRACES_SAMPLER
    for exporter in span_exporters(otlp_endpoint, env):
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    return provider


class TraceIdFilter(logging.Filter):
    """Adds the current trace and span ids to every log record, so logs and traces join up."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach `trace_id` and `span_id` (None outside a span) to the record."""
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """One JSON object per line: time, level, service, logger, message, trace_id, span_id (and an exception's text)."""
    handler = logging.StreamHandler()
    handler.addFilter(TraceIdFilter())
    handler.setFormatter(JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"service": service_name},
        timestamp="time",  # ISO 8601 in UTC, to the microsecond: lines of several processes sort by it
        json_ensure_ascii=False,
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
