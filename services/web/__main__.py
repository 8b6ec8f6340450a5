"""Run the web workspace: `python -m services.web`."""

import uvicorn
from opentelemetry import trace

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.telemetry import configure_logging, create_tracer_provider

if __name__ == "__main__":
    settings = WebSettings()  # type: ignore[call-arg]
    configure_logging("web")
    provider = create_tracer_provider("web", settings.otlp_endpoint)
    trace.set_tracer_provider(provider)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)
