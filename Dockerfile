# syntax=docker/dockerfile:1
# One image for the five services and the web workspace; the command picks which:
#   docker run <image> python -m services.intake   (or assessment, servicing, notifications, directory, web)
# Settings come from the environment with the service's prefix (INTAKE_HTTP_PORT, ...), see shared/settings.py.
# The workspace's front-end assets from the npm registry, by its lock file (no CDN at run time).
FROM node:20-slim AS assets
WORKDIR /assets
COPY services/web/package.json services/web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
# Swagger UI for each service's /docs (shared/docs.py).
COPY shared/docs_ui/package.json shared/docs_ui/package-lock.json ./docs_ui/
RUN npm ci --prefix docs_ui --omit=dev --no-audit --no-fund --ignore-scripts

FROM python:3.11-slim

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /app

# uv: install into /app/.venv with the image's own Python 3.11, never download one; compile bytecode
# at build time (the runtime user cannot write __pycache__ next to root-owned files).
ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# Dependencies first (from the lock only), so code changes do not reinstall them.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# The code the services run: the shared package and the services (with their SQL migrations).
COPY shared/ ./shared/
COPY services/ ./services/
# compose's kafka-init: the principals, ACLs and topics (deploy/kafka_security/) and the directory seed's banks.
COPY deploy/ ./deploy/
COPY --from=assets /assets/node_modules/ ./services/web/node_modules/
COPY --from=assets /assets/docs_ui/node_modules/ ./shared/docs_ui/node_modules/
RUN /app/.venv/bin/python -m compileall -q shared services

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app app
USER 10001:10001

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# Every service listens on <PREFIX>HTTP_PORT (8000 in docker-compose.yml); the readiness
# healthcheck lives in docker-compose.yml because the variable's prefix differs per service.
EXPOSE 8000

CMD ["python", "-m", "services.intake"]
