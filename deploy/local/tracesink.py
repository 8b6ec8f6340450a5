"""A tiny local OTLP/HTTP trace collector that appends spans to a JSON-lines file, plus a text viewer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.local.otlp_receiver import TRACES_PATH, create_sink_app
from deploy.local.span_store import SpanRecord, read_spans
from deploy.local.trace_view import render_trace, render_trace_list, summarize_traces


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
