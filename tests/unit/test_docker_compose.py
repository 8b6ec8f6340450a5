"""docker-compose.yml, Dockerfile and .dockerignore stay consistent with the code they run.

No container engine is needed (there is none on the development machine): the files are parsed and
compared with the services' entry points, settings classes and imports, and with the one version of
each infrastructure piece (deploy/versions.toml) that the local launcher and the test containers run.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr

from deploy import compose_env, kafka_security
from deploy.local.kafka import LocalKafka
from deploy.local.kafka_provisioning import server_properties
from deploy.local.services import SERVICES, WEB, env_prefix
from services.web.settings import WebSettings
from deploy.local.topics import DEFAULT_PARTITIONS
from deploy.versions import pinned
from tests.support import infra as test_infra
from tests.support.kafka_container import KRAFT_ENVIRONMENT

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
KAFKA_POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
KAFKA_VERSION_NOTE = REPO_ROOT / "deploy" / "kafka" / "VERSION.md"
README = REPO_ROOT / "README.md"

HOST_PORTS = {"intake": 8001, "assessment": 8002, "servicing": 8003, "notifications": 8004, "directory": 8005, "privacy": 8006}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _service(name: str) -> dict[str, Any]:
    services = _compose()["services"]
    assert name in services, f"docker-compose.yml has no `{name}` service"
    return services[name]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A compose `environment` (mapping or KEY=VALUE list) as a dict of strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = [item.split("=", 1) for item in env]
        assert all(len(p) == 2 for p in pairs), f"environment entries need KEY=VALUE: {env}"
        return {k: v for k, v in pairs}
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    assert command is not None, "service has no command"
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _healthcheck_test(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test")
    assert test, "service has no healthcheck"
    return test if isinstance(test, str) else " ".join(str(t) for t in test)


def _image(name: str) -> tuple[str, str]:
    image = _service(name).get("image", "")
    repository, _, tag = image.rpartition(":")
    assert repository and tag, f"{name}: image {image!r} must be pinned with a tag"
    return repository, tag


def _settings_cls(name: str) -> type:
    return importlib.import_module(f"services.{name}.app").DEFINITION.settings_cls


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "Dockerfile ends inside a line continuation"
    instructions = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def _first_party_imports() -> set[str]:
    """Top-level repository packages imported by the code shipped in the image (shared/ and services/)."""
    found: set[str] = set()
    for package in ("shared", "services"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if (REPO_ROOT / top / "__init__.py").exists() or (REPO_ROOT / f"{top}.py").exists():
                        found.add(top)
    return found


# ---------------------------------------------------------------- the five services


@pytest.mark.unit
def test_compose_runs_exactly_the_six_services_the_workspace_and_the_infrastructure() -> None:
    assert set(_compose()["services"]) == {*SERVICES, WEB, "kafka", "kafka-init", "postgres", "jaeger", "keycloak", "prometheus", "mailpit"}


@pytest.mark.unit
def test_prometheus_scrapes_the_services_as_the_local_victoria_metrics_does() -> None:
    from deploy.local.victoria import ALERT_RULES, METRICS_DIR, SCRAPE_JOB, scrape_config

    repository, tag = _image("prometheus")
    assert (repository, tag) == ("prom/prometheus", f"v{pinned('prometheus')}")
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in _service("prometheus")["volumes"]}
    assert mounts["/etc/prometheus/alerts.yml"] == "./" + str(ALERT_RULES.relative_to(REPO_ROOT))
    config = yaml.safe_load((METRICS_DIR / "prometheus.yml").read_text())
    assert mounts["/etc/prometheus/prometheus.yml"] == "./" + str((METRICS_DIR / "prometheus.yml").relative_to(REPO_ROOT))
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    local = yaml.safe_load(scrape_config({name: f"http://{name}:8000" for name in SERVICES}))
    [job] = config["scrape_configs"]
    [local_job] = local["scrape_configs"]
    assert job["job_name"] == local_job["job_name"] == SCRAPE_JOB
    assert job["static_configs"] == local_job["static_configs"], "compose scrapes what make run scrapes"


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_command_runs_its_module(name: str) -> None:
    service = _service(name)
    assert _command(service) == ["python", "-m", f"services.{name}"]
    assert (REPO_ROOT / "services" / name / "__main__.py").is_file()
    assert service.get("build") in (".", {"context": "."}), f"{name} must build the root Dockerfile"


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_environment_names_fields_of_its_settings(name: str) -> None:
    prefix = env_prefix(name)
    settings_cls = _settings_cls(name)
    assert settings_cls.model_config.get("env_prefix") == prefix
    env = _environment(_service(name))
    assert env, f"{name} has no environment"
    for key in env:
        assert key.startswith(prefix), f"{name}: {key} lacks the {prefix} prefix"
        field = key[len(prefix) :].lower()
        assert field in settings_cls.model_fields, f"{name}: {key} is not a field of {settings_cls.__name__}"
    for field in ("kafka_bootstrap_servers", "database_url", "http_host", "http_port", "otlp_endpoint"):
        assert f"{prefix}{field.upper()}" in env, f"{name}: {prefix}{field.upper()} is not set"


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_environment_loads_into_its_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = env_prefix(name)
    settings_cls = _settings_cls(name)
    env = _environment(_service(name))
    for key in list(os.environ):
        if key.upper().startswith(prefix):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    settings = settings_cls()  # raises ValidationError on a bad value

    for key, value in env.items():
        loaded = getattr(settings, key[len(prefix) :].lower())
        if isinstance(loaded, SecretStr):
            loaded = loaded.get_secret_value()
        assert str(loaded) == value, f"{name}: {key}={value!r} loaded as {loaded!r}"


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_addresses_point_at_the_compose_network(name: str) -> None:
    prefix = env_prefix(name)
    compose = _compose()
    env = _environment(_service(name))
    kafka_env = _environment(compose["services"]["kafka"])
    postgres_env = _environment(compose["services"]["postgres"])

    advertised = {a.split("://", 1)[1] for a in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert set(env[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"].split(",")) <= advertised

    dsn = urlsplit(env[f"{prefix}DATABASE_URL"])
    assert dsn.scheme in ("postgresql", "postgres")
    assert (dsn.hostname, dsn.port or 5432) == ("postgres", 5432)
    assert dsn.username == postgres_env.get("POSTGRES_USER", "postgres")
    assert dsn.password == postgres_env["POSTGRES_PASSWORD"]
    assert dsn.path.lstrip("/") == postgres_env.get("POSTGRES_DB", dsn.username)

    otlp = urlsplit(env[f"{prefix}OTLP_ENDPOINT"])
    assert (otlp.hostname, otlp.port) == ("jaeger", 4318)
    assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0", "the API must listen beyond the container's loopback"


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_port_and_readiness_healthcheck(name: str) -> None:
    service = _service(name)
    container_port = int(_environment(service)[f"{env_prefix(name)}HTTP_PORT"])
    assert [str(p) for p in service.get("ports", [])] == [f"{HOST_PORTS[name]}:{container_port}"]
    test = _healthcheck_test(service)
    assert "urllib" in test and "curl" not in test, "slim images have no curl"
    assert f"127.0.0.1:{container_port}/ready" in test or f"localhost:{container_port}/ready" in test


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_healthy_kafka_and_postgres(name: str) -> None:
    depends_on = _service(name).get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must be the long form with conditions"
    for dependency in ("kafka", "postgres"):
        assert depends_on.get(dependency, {}).get("condition") == "service_healthy", (
            f"{name} must wait for a healthy {dependency}"
        )


# ---------------------------------------------------------------- infrastructure


@pytest.mark.unit
def test_infrastructure_images_are_the_official_ones() -> None:
    repository, tag = _image("kafka")
    assert repository == "apache/kafka"
    assert re.fullmatch(r"4\.\d+\.\d+", tag), f"Kafka must be a pinned 4.x release, got {tag}"
    repository, tag = _image("postgres")
    assert repository == "postgres"
    repository, tag = _image("jaeger")
    assert repository == "jaegertracing/jaeger", "the Jaeger v2 all-in-one image"
    assert re.fullmatch(r"2\.\d+\.\d+", tag), f"Jaeger must be a pinned 2.x release, got {tag}"
    repository, tag = _image("mailpit")
    assert repository == "axllent/mailpit"
    assert re.fullmatch(r"v1\.\d+\.\d+", tag), f"Mailpit must be a pinned 1.x release, got {tag}"


@pytest.mark.unit
def test_notifications_sends_its_e_mails_to_the_compose_smtp_server() -> None:
    env = _environment(_service("notifications"))
    assert (env["NOTIFICATIONS_SMTP_HOST"], env["NOTIFICATIONS_SMTP_PORT"]) == ("mailpit", "1025")  # Mailpit's SMTP port


# ---------------------------------------------------------------- one version per piece


@pytest.mark.unit
@pytest.mark.parametrize("piece", ["kafka", "postgres"])
def test_compose_and_the_test_containers_run_the_pinned_version(piece: str) -> None:
    fixtures = {"kafka": test_infra.DEFAULT_KAFKA_IMAGE, "postgres": test_infra.DEFAULT_POSTGRES_IMAGE}
    compose = ":".join(_image(piece))

    assert _image(piece)[1] == pinned(piece), "docker-compose.yml and deploy/versions.toml differ"
    assert fixtures[piece] == compose, "the test containers and docker-compose.yml run different images"


@pytest.mark.unit
def test_the_local_broker_fetches_the_pinned_kafka(tmp_path: Path) -> None:
    node = ET.parse(KAFKA_POM).getroot().find("m:properties/m:kafka.version", {"m": "http://maven.apache.org/POM/4.0.0"})
    assert node is not None and (node.text or "").strip() == pinned("kafka"), (
        "kafka.version in deploy/kafka/pom.xml and deploy/versions.toml differ"
    )
    assert LocalKafka(tmp_path).version == pinned("kafka")


@pytest.mark.unit
def test_the_documentation_names_the_pinned_kafka() -> None:
    version = pinned("kafka")
    assert version in KAFKA_VERSION_NOTE.read_text().splitlines()[0]
    named = set(re.findall(r"Kafka (\d+\.\d+\.\d+)", README.read_text()))
    assert named <= {version}, f"the README names Kafka {sorted(named)}, deploy/versions.toml {version}"


@pytest.mark.unit
def test_the_kafka_test_container_is_a_single_kraft_node_like_compose() -> None:
    container, compose = KRAFT_ENVIRONMENT, _environment(_service("kafka"))
    for key in ("KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_LISTENER_NAMES",
                "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS",
                "KAFKA_AUTO_CREATE_TOPICS_ENABLE"):
        assert container[key] == compose[key], key
    listeners = {entry.split("://")[0]: entry.split(":")[-1] for entry in container["KAFKA_LISTENERS"].split(",")}
    protocols = dict(pair.split(":") for pair in container["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) == set(protocols)
    assert container["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    assert container["KAFKA_CONTROLLER_QUORUM_VOTERS"].endswith(f":{listeners['CONTROLLER']}")


@pytest.mark.unit
def test_kafka_is_a_single_kraft_node_with_auto_created_topics() -> None:
    kafka = _service("kafka")
    env = _environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"
    listeners = dict(
        (entry.split("://", 1)[0], entry.split("://", 1)[1]) for entry in env["KAFKA_LISTENERS"].split(",")
    )
    assert listeners == {"SASL_PLAINTEXT": ":9092", "CONTROLLER": ":9093"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    protocol_map = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocol_map)
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", f"{key} must be 1 on a single node"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    # Nothing creates topics in compose: the broker does, with the partition count the local launcher uses.
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"
    assert int(env["KAFKA_NUM_PARTITIONS"]) == DEFAULT_PARTITIONS
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in _healthcheck_test(kafka)


@pytest.mark.unit
def test_kafka_requires_scram_and_denies_what_no_acl_grants_as_the_local_broker() -> None:
    env = _environment(_service("kafka"))
    local = dict(
        line.split("=", 1) for line in server_properties(Path("/data"), 9092, 9093, "pw").splitlines() if "=" in line
    )
    assert dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")) == {
        "SASL_PLAINTEXT": "SASL_PLAINTEXT", "CONTROLLER": "PLAINTEXT"
    }
    for key in ("sasl.enabled.mechanisms", "sasl.mechanism.inter.broker.protocol", "authorizer.class.name",
                "allow.everyone.if.no.acl.found", "super.users", "inter.broker.listener.name"):
        assert env["KAFKA_" + key.upper().replace(".", "_")] == local[key], key
    assert "${MC_KAFKA_PASSWORD_ADMIN" in env["KAFKA_LISTENER_NAME_SASL__PLAINTEXT_SCRAM___SHA___512_SASL_JAAS_CONFIG"]
    # The admin exists from the format on; kafka-init creates the others and the ACLs before any service starts.
    assert "--add-scram" in " ".join(_service("kafka")["command"])
    init = _service("kafka-init")
    assert init["command"][-3:] == ["provision", "--bootstrap", "kafka:9092"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_each_service_logs_in_to_kafka_as_itself_with_a_password_from_env(name: str) -> None:
    prefix = env_prefix(name)
    env = _environment(_service(name))
    assert env[f"{prefix}KAFKA_USERNAME"] == name and name in kafka_security.services().keys()
    assert env[f"{prefix}KAFKA_PASSWORD"].startswith("${" + kafka_security.password_variable(name) + ":?")
    assert _service(name)["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    generated = {line.split("=", 1)[0] for line in compose_env.lines()}
    assert kafka_security.password_variable(name) in generated and kafka_security.password_variable("admin") in generated


@pytest.mark.unit
def test_postgres_and_jaeger() -> None:
    assert "pg_isready" in _healthcheck_test(_service("postgres"))
    jaeger_ports = {str(p).split(":")[-1] for p in _service("jaeger").get("ports", [])}
    assert {"16686", "4318"} <= jaeger_ports


# ---------------------------------------------------------------- image


@pytest.mark.unit
def test_dockerfile_installs_the_lock_and_copies_what_the_services_import() -> None:
    instructions = _dockerfile_instructions()
    keywords = [k for k, _ in instructions]
    froms = [args for k, args in instructions if k == "FROM"]
    assert froms == ["node:20-slim AS assets", "python:3.11-slim"], froms
    assert any(k == "RUN" and a.startswith("npm ci") for k, a in instructions), "the assets come from the npm lock file"
    assert ("COPY", "--from=assets /assets/node_modules/ ./services/web/node_modules/") in instructions

    # uv from PyPI at a pinned version (literal, or an ARG with a default).
    arg_defaults = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    pins = [
        m.group(1)
        for k, a in instructions
        if k == "RUN" and "pip install" in a
        for m in [re.search(r"\buv==([^\s\"']+)", a)]
        if m
    ]
    assert len(pins) == 1, "uv is installed with pip, pinned"
    version = re.sub(r"\$\{?(\w+)\}?", lambda v: arg_defaults.get(v.group(1), ""), pins[0])
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"uv pin {pins[0]!r} is not a version"

    sync = [i for i, (k, a) in enumerate(instructions) if k == "RUN" and "uv sync" in a]
    assert len(sync) == 1, "one `uv sync`"
    sync_args = instructions[sync[0]][1]
    for flag in ("--frozen", "--no-dev", "--no-install-project"):
        assert flag in sync_args

    copies = [(i, a.split()) for i, (k, a) in enumerate(instructions) if k == "COPY"]
    copied_sources = {
        src.rstrip("/").removeprefix("./") for _, parts in copies for src in parts[:-1] if not src.startswith("--")
    }
    lock_copy = [i for i, parts in copies if {"pyproject.toml", "uv.lock"} <= set(parts)]
    assert lock_copy and lock_copy[0] < sync[0], "pyproject.toml and uv.lock are copied before `uv sync`"

    imported = _first_party_imports()
    assert {"shared", "services"} <= imported
    missing = imported - copied_sources
    assert not missing, f"the services import {sorted(missing)} but the Dockerfile does not copy it"

    env_lines = " ".join(a for k, a in instructions if k == "ENV")
    assert "PATH=/app/.venv/bin:$PATH" in env_lines
    assert "PYTHONUNBUFFERED=1" in env_lines
    users = [a for k, a in instructions if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image runs as a non-root user"
    assert keywords.index("USER") > max(i for i, _ in copies), "files are copied before dropping root"


@pytest.mark.unit
def test_dockerignore_drops_local_state_but_keeps_the_sources() -> None:
    patterns = {
        line.strip().strip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for excluded in (".venv", ".tools", ".local", ".git", ".pytest_cache"):
        assert excluded in patterns, f".dockerignore must exclude {excluded}"
    assert any("__pycache__" in p for p in patterns)
    for kept in ("shared", "services", "pyproject.toml", "uv.lock"):
        assert kept not in patterns and f"{kept}/**" not in patterns, f".dockerignore must keep {kept}"


# ---------------------------------------------------------------- identity provider


@pytest.mark.unit
def test_keycloak_is_the_official_image_of_the_pinned_version_importing_the_realm_file() -> None:
    keycloak = _service("keycloak")
    repository, tag = _image("keycloak")
    assert (repository, tag) == ("quay.io/keycloak/keycloak", pinned("keycloak"))
    assert "--import-realm" in _command(keycloak)
    assert "./deploy/keycloak:/opt/keycloak/data/import:ro" in keycloak["volumes"]
    env = _environment(keycloak)
    assert env["KC_DB_URL"] == "jdbc:postgresql://postgres:5432/keycloak"
    assert "create database keycloak" in (REPO_ROOT / "deploy" / "compose" / "postgres-init.sql").read_text()


@pytest.mark.unit
def test_compose_env_provides_every_secret_the_realm_file_asks_for() -> None:
    from deploy.compose_env import PLACEHOLDER, lines
    from deploy.local.keycloak import REALM_FILE

    given = {line.split("=", 1)[0] for line in lines()}
    asked = set(PLACEHOLDER.findall(REALM_FILE.read_text()))
    assert asked and asked <= given
    assert "MC_KEYCLOAK_ADMIN_PASSWORD" in given
    assert not re.search(r"MC_(PASSWORD|SECRET)_[A-Z_]+=", REALM_FILE.read_text()), "no secret value in the repository"


@pytest.mark.unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_trusts_the_compose_keycloak(name: str) -> None:
    env = _environment(_service(name))
    prefix = env_prefix(name)
    assert env[f"{prefix}OIDC_ISSUER"] == "http://localhost:8180/realms/microcredit"
    assert urlsplit(env[f"{prefix}OIDC_JWKS_URL"]).hostname == "keycloak"
    assert _service(name)["depends_on"]["keycloak"]["condition"] == "service_healthy"


@pytest.mark.unit
def test_the_workspace_in_compose_reaches_the_services_and_keycloak_inside_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    web = _service(WEB)
    env = _environment(web)
    for key in list(os.environ):
        if key.startswith("WEB_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MC_SECRET_WEB", "from-dot-env")

    settings = WebSettings(oidc_client_secret=SecretStr("from-dot-env"))

    assert _command(web) == ["python", "-m", "services.web"] and [str(p) for p in web["ports"]] == ["8000:8000"]
    assert all(key[len("WEB_"):].lower() in WebSettings.model_fields for key in env)
    assert {name: urlsplit(getattr(settings, f"{name}_url")).hostname for name in SERVICES} == {name: name for name in SERVICES}
    assert settings.oidc_issuer == "http://localhost:8180/realms/microcredit"
    assert urlsplit(settings.oidc_discovery_url or "").hostname == urlsplit(settings.oidc_jwks_url or "").hostname == "keycloak"
    assert settings.public_url == "http://localhost:8000" and env["WEB_OIDC_CLIENT_SECRET"].startswith("${MC_SECRET_WEB")
    assert "--hostname-backchannel-dynamic=true" in _command(_service("keycloak"))
    assert web["depends_on"]["keycloak"]["condition"] == "service_healthy"
