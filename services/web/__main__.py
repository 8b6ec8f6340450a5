"""Run the web workspace: `python -m services.web`."""

from opentelemetry import trace

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.main import serve
from shared.telemetry import configure_logging, create_tracer_provider

if __name__ == "__main__":
    settings = WebSettings()  # type: ignore[call-arg]
    configure_logging("web")
    provider = create_tracer_provider("web", settings.otlp_endpoint)
    trace.set_tracer_provider(provider)
    serve(create_app(settings), settings.http_host, settings.http_port)
