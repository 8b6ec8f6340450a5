"""The HTTP benchmark's raw ceiling: a hello-world FastAPI endpoint, served as the services are served.

    .venv/bin/python -m bench.hello --port 8099      # started and stopped by `python -m bench.http`
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI


def create_app() -> FastAPI:
    """One route, no middleware, no dependency, no database: what FastAPI and uvicorn cost alone."""
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


def main() -> None:
    """Serve the app on 127.0.0.1 with the services' uvicorn options (shared/main.py)."""
    parser = argparse.ArgumentParser(prog="python -m bench.hello", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
