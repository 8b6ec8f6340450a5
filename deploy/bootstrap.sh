#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: the pinned uv, then the locked Python environment.
# Idempotent and quick when everything is already there. Kafka's jars are fetched by Maven on first start.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

need() { command -v "$1" >/dev/null || { echo "missing: $1 ($2)" >&2; exit 1; }; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required" >&2; exit 1; }
need java "OpenJDK 17+ runs the local Kafka broker"
need mvn "Maven fetches the Kafka broker's jars from Maven Central"
# The PostgreSQL major version is pinned in deploy/versions.toml; the launcher looks for it the same way.
PG_MAJOR=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("deploy/versions.toml", "rb"))["postgres"]["version"])')
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
  [ -x "$PG_BIN/initdb" ] || PG_BIN=$(pg_config --bindir 2>/dev/null || echo "$PG_BIN")
fi
[ -x "$PG_BIN/initdb" ] || { echo "missing: PostgreSQL $PG_MAJOR server binaries (initdb) in $PG_BIN; set PG_BIN" >&2; exit 1; }

if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
# Compiled once here: a machine with PYTHONDONTWRITEBYTECODE set (containers, CI) would otherwise compile every
# imported module from source in every process it starts, about half of each service's 2.5 s start.
.tools/bin/uv sync --frozen --python "$PYTHON" --quiet --compile-bytecode
.venv/bin/python -m compileall -q -j 0 services shared deploy bench > /dev/null

# The web workspace's front-end assets (htmx; axe-core for the browser tests) from the npm registry, by its
# lock file, into services/web/node_modules (git-ignored); the web service serves them itself (no CDN).
npm_ci() {  # npm_ci DIR WHAT: install DIR's locked npm packages unless that lock is already installed
  if ! cmp -s "$1/package-lock.json" "$1/node_modules/.installed-lock.json" 2>/dev/null; then
    need npm "npm installs $2"
    # --ignore-scripts: none of these packages needs an install script (swagger-ui-dist's only reports usage).
    npm ci --prefix "$1" --no-audit --no-fund --silent --ignore-scripts
    cp "$1/package-lock.json" "$1/node_modules/.installed-lock.json"
  fi
}
npm_ci services/web "the web workspace's front-end assets"
# Swagger UI for each service's /docs, served by the service itself (no CDN).
npm_ci shared/docs_ui "Swagger UI's assets for the services' /docs"
# The official AsyncAPI parser, with which the tests validate docs/asyncapi/*.yaml.
npm_ci tests/support/asyncapi "the AsyncAPI parser the tests use"

# What checks deploy/k8s offline (tests/unit/test_k8s_manifests.py), into .local/k8s (git-ignored): kustomize built
# from the Go module proxy, the operators' CRDs (Strimzi's written by its own generator, on Java 21+), pinned and
# checked against their SHA-256 in deploy/versions.toml. Quick when they are there.
.venv/bin/python -m deploy.k8s_tools ensure
