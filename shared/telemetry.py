"""OpenTelemetry setup: a tracer provider per process, OTLP/HTTP export when configured."""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def create_tracer_provider(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    """A provider for `service_name`; spans go to `<otlp_endpoint>/v1/traces` when one is given."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if otlp_endpoint:
        exporter = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    return provider


class TraceIdFilter(logging.Filter):
    """Adds the current trace id to every log record, so logs and traces join up."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach `trace_id` (or '-') to the record."""
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else "-"
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """Structured-enough single-line logs carrying the service name and trace id."""
    handler = logging.StreamHandler()
    handler.addFilter(TraceIdFilter())
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)s {service_name} trace=%(trace_id)s %(name)s: %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
