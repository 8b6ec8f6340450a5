"""Write each service's AsyncAPI 3 document, as the service serves it at `/asyncapi.yaml`: `python -m deploy.asyncapi`.

One file per service in `docs/asyncapi/<service>.yaml`, and `partner-banks.yaml` for what the partner banks write
on their own topics. `--check` writes nothing and exits 1 when a file differs from the code.
"""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from faststream.specification.base import Specification
from opentelemetry.sdk.trace import TracerProvider

from shared import asyncapi
from shared.clock import SystemClock
from shared.oidc import KeySet

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "docs" / "asyncapi"
SERVICES = ("intake", "assessment", "servicing", "notifications", "directory", "privacy")
# The address the documents name for the broker: the local platform's (deploy/local) default.
BOOTSTRAP = "127.0.0.1:9092"
# Never used: building an app reads no key, it only needs to know where keys would come from.
_ISSUER = "http://127.0.0.1:8180/realms/microcredit"


def _definition(service: str) -> Any:
    module = __import__(f"services.{service}.app", fromlist=["DEFINITION"])
    return module.DEFINITION


def service_app(service: str) -> FastAPI:
    """The service's app as it is built at start (its broker with its subscribers and publishers), nothing connected."""
    definition = _definition(service)
    # Its own Kafka principal (SASL/SCRAM-SHA-512): the document shows the security scheme; no password is in it.
    settings = definition.settings_cls(
        kafka_bootstrap_servers=BOOTSTRAP, kafka_username=service, kafka_password="", oidc_issuer=_ISSUER
    )
    return definition.create_app(settings, tracer_provider=TracerProvider(), keys=KeySet(_ISSUER, now=SystemClock().now))


@cache
def documents() -> dict[str, Specification]:
    """Every document by name: the six services', then the partner banks'."""
    out: dict[str, Specification] = {}
    for service in SERVICES:
        definition = _definition(service)
        app = service_app(service)
        out[service] = asyncapi.specification(
            app.state.ctx.broker, service=service, title=definition.title, description=definition.description
        )
    out[asyncapi.PARTNER_BANKS] = asyncapi.specification(
        asyncapi.partner_banks_broker(BOOTSTRAP),
        service=asyncapi.PARTNER_BANKS,
        title="Microcredit partner banks",
        description="What a partner bank writes on its own topics: its decisions on the files routed to it, and the "
        "payments and reversals on its loans. The services read them as they read their HTTP calls.",
    )
    return out


def rendered() -> dict[Path, str]:
    """Each file's content by path."""
    return {OUT_DIR / f"{name}.yaml": asyncapi.to_yaml(spec) for name, spec in documents().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.asyncapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path.relative_to(REPO_ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("out of date (run: python -m deploy.asyncapi): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
