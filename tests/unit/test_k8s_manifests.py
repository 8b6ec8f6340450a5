"""deploy/k8s, checked offline: the example overlay renders, every object is valid for the API that will receive it,
and the production choices the README states (probes, non-root, read-only root, topics and principals of the code,
three Kafka replicas with two in sync, default-deny network) are in what would be applied.

Kubernetes' own kinds are validated with `kubernetes-validate` in strict mode (an unknown field fails); the
operators' kinds (Strimzi, CloudNativePG, KEDA) against the openAPIV3Schema of their CRDs, fetched at the pinned
versions by `make install` (deploy/k8s_tools.py), with unknown fields refused as the API server's strict field
validation would. The CRDs' CEL rules (x-kubernetes-validations) are not evaluated: no Python evaluator of CEL.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy import k8s_tools
from deploy.local.services import SERVICES, WEB, env_prefix
from deploy.versions import pinned
from shared.events.topics import PartnerTopics, Topics

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
# The oldest Kubernetes the manifests are written for (PodDisruptionBudget policy/v1, autoscaling/v2, …).
KUBERNETES_VERSION = "1.33.0"
SEED = json.loads((REPO_ROOT / "deploy" / "directory" / "seed.json").read_text(encoding="utf-8"))
CONSUMERS = ("intake", "assessment", "servicing", "notifications", "directory", "privacy")


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    """The example overlay, rendered by the pinned kustomize."""
    if not k8s_tools.KUSTOMIZE.is_file():
        pytest.fail("kustomize is not built: run `make install` (python -m deploy.k8s_tools ensure)")
    return [o for o in yaml.safe_load_all(k8s_tools.render()) if o]


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The objects of one kind, by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def is_core(api_version: str) -> bool:
    """Kubernetes' own API groups (v1, apps/v1, networking.k8s.io/v1, …), whose schemas kubernetes-validate ships."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the openAPIV3Schema of every CRD fetched by `make install`."""
    if not (k8s_tools.CRD_DIR / ".versions").is_file():
        pytest.fail("the operators' CRDs are not fetched: run `make install` (python -m deploy.k8s_tools ensure)")
    schemas = {}
    for path in sorted(k8s_tools.CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        for version in crd["spec"]["versions"]:
            schemas[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return schemas


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused where the API server would drop them (strict field validation)."""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {name: closed(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = closed(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            schema[key] = [closed(sub) for sub in schema[key]]
    return schema


def containers(deployment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Deployment's init containers and containers."""
    spec = deployment["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def test_core_objects_are_valid_in_strict_mode(objects: list[dict[str, Any]]) -> None:
    core = [o for o in objects if is_core(o["apiVersion"])]
    assert {o["kind"] for o in core} >= {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Ingress", "HorizontalPodAutoscaler"}
    errors = []
    for obj in core:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as invalid:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {invalid.message} at {list(invalid.path)}")
    assert errors == []


def test_operator_objects_match_their_crd_schema(objects: list[dict[str, Any]]) -> None:
    custom = [o for o in objects if not is_core(o["apiVersion"])]
    unknown = sorted({f"{o['apiVersion']} {o['kind']}" for o in custom} - {f"{v} {k}" for v, k in crd_schemas()})
    assert unknown == [], "a kind no fetched CRD describes (deploy/k8s_tools.py) would go unchecked"
    errors = []
    for obj in custom:
        schema = closed(crd_schemas()[(obj["apiVersion"], obj["kind"])])
        schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: the API server checks it, not the CRD
        for invalid in jsonschema.Draft7Validator(schema).iter_errors(obj):
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {invalid.message} at {list(invalid.absolute_path)}")
    assert errors == []


def test_the_operator_schemas_refuse_a_misspelt_field() -> None:
    schema = closed(crd_schemas()[("kafka.strimzi.io/v1", "KafkaTopic")])
    topic = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "spec": {"topicName": "t", "partitions": 6, "replica": 3}}
    assert [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(topic)] == [
        "Additional properties are not allowed ('replica' was unexpected)"
    ]


def test_each_service_and_the_workspace_is_a_deployment_behind_a_service_with_a_disruption_budget(objects: list[dict[str, Any]]) -> None:
    deployments, services, budgets = of_kind(objects, "Deployment"), of_kind(objects, "Service"), of_kind(objects, "PodDisruptionBudget")
    assert set(deployments) == {*SERVICES, WEB, "keycloak"}
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= labels.items()
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budgets[name]["spec"]["minAvailable"] == 1
    for name in (*SERVICES, WEB):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}"]


def test_every_container_is_probed_bounded_non_root_and_read_only(objects: list[dict[str, Any]]) -> None:
    for name, deployment in of_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(deployment):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert context["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), (name, container["name"])
            assert "memory" in container["resources"]["limits"], (name, container["name"])
        main = pod["containers"][0]
        assert main["readinessProbe"]["httpGet"]["path"] in ("/ready", "/health/ready"), name
        assert main["livenessProbe"]["httpGet"]["path"] in ("/health", "/health/live"), name
        # A read-only root: what writes goes to a volume.
        assert any(m["mountPath"] == "/tmp" for m in main["volumeMounts"]), name


@pytest.mark.parametrize("name", [*SERVICES, WEB])
def test_deployment_environment_names_fields_of_the_service_settings(objects: list[dict[str, Any]], name: str) -> None:
    module = __import__(f"services.{name}.settings", fromlist=["_"])
    (settings_class,) = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__ and c.__name__.endswith("Settings")]
    prefix = env_prefix(name)
    (container,) = of_kind(objects, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    named = [v["name"][len(prefix):].lower() for v in container["env"] if v["name"].startswith(prefix)]
    assert named and set(named) <= set(settings_class.model_fields), set(named) - set(settings_class.model_fields)


def test_every_topic_of_the_code_is_a_kafka_topic_replicated_three_times(objects: list[dict[str, Any]]) -> None:
    topics = {t["spec"]["topicName"]: t for t in of_kind(objects, "KafkaTopic").values()}
    expected = {*Topics.all(), *(t for bank in SEED["banks"] for t in PartnerTopics.of_bank(bank))}
    assert set(topics) == expected
    for name, topic in topics.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "microcredit", name
        assert topic["spec"]["replicas"] == 3, name
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, name
    assert topics[Topics.DIRECTORY]["spec"]["config"]["cleanup.policy"] == "compact"


def test_kafka_is_three_kraft_nodes_with_two_in_sync_scram_and_acls(objects: list[dict[str, Any]]) -> None:
    (kafka,) = of_kind(objects, "Kafka").values()
    (pool,) = of_kind(objects, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"controller", "broker"}
    config = kafka["spec"]["kafka"]["config"]
    assert (config["default.replication.factor"], config["min.insync.replicas"]) == (3, 2)
    assert config["auto.create.topics.enable"] is False
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener["tls"] is True and listener["authentication"]["type"] == "scram-sha-512", listener["name"]


def acls(user: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) the KafkaUser is granted."""
    return {
        (a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], op)
        for a in user["spec"]["authorization"]["acls"]
        for op in a["operations"]
    }


def test_each_bank_reads_only_its_feed_and_writes_only_its_incoming_topics(objects: list[dict[str, Any]]) -> None:
    users = of_kind(objects, "KafkaUser")
    for bank in SEED["banks"]:
        feed, decisions, payments = PartnerTopics.of_bank(bank)
        assert acls(users[f"bank-{bank}"]) == {
            ("topic", feed, "literal", "Read"), ("topic", feed, "literal", "Describe"),
            ("group", PartnerTopics.group_prefix(bank), "prefix", "Read"), ("group", PartnerTopics.group_prefix(bank), "prefix", "Describe"),
            ("topic", decisions, "literal", "Write"), ("topic", decisions, "literal", "Describe"),
            ("topic", payments, "literal", "Write"), ("topic", payments, "literal", "Describe"),
        }
    assert set(users) == {"admin", *CONSUMERS, *(f"bank-{bank}" for bank in SEED["banks"])}
    # The super user (ops' tools) is granted nothing by ACL and is the only one the authorizer exempts.
    assert "authorization" not in users["admin"]["spec"]
    (kafka,) = of_kind(objects, "Kafka").values()
    assert kafka["spec"]["kafka"]["authorization"]["superUsers"] == ["admin"]


def test_every_kafka_user_carries_exactly_the_acls_the_local_broker_applies(objects: list[dict[str, Any]]) -> None:
    """One declaration (deploy/kafka_security/) for the local broker, compose and Strimzi: the same rules."""
    from deploy import kafka_security

    users = of_kind(objects, "KafkaUser")
    declared: dict[str, set[tuple[str, str, str, str]]] = {}
    for rule in kafka_security.acls(SEED["banks"]):
        pattern = {"literal": "literal", "prefixed": "prefix"}[rule.pattern]  # Strimzi's spelling of the pattern type
        declared.setdefault(rule.principal, set()).update((rule.resource_type, rule.name, pattern, op) for op in rule.operations)
    assert {name: acls(user) for name, user in users.items() if name != "admin"} == declared


def test_services_scale_on_the_lag_of_their_own_groups_with_their_own_principal(objects: list[dict[str, Any]]) -> None:
    scaled, auths, users = of_kind(objects, "ScaledObject"), of_kind(objects, "TriggerAuthentication"), of_kind(objects, "KafkaUser")
    assert set(scaled) == set(CONSUMERS)
    for name in CONSUMERS:
        handlers = __import__(f"services.{name}.handlers", fromlist=["_"])
        groups = {value for key, value in vars(handlers).items() if re.fullmatch(r"(\w+_)?GROUP_ID", key)}
        granted = acls(users[name])
        assert scaled[name]["spec"]["minReplicaCount"] >= 2  # the disruption budget keeps one while the other moves
        for trigger in scaled[name]["spec"]["triggers"]:
            meta = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert meta["consumerGroup"] in groups, (name, meta["consumerGroup"])
            assert ("group", meta["consumerGroup"], "literal", "Read") in granted
            if "topic" in meta:  # without one, the lag of every topic the group reads (the banks' topics, by pattern)
                assert ("topic", meta["topic"], "literal", "Read") in granted
            auth = auths[trigger["authenticationRef"]["name"]]
            password = next(r for r in auth["spec"]["secretTargetRef"] if r["parameter"] == "password")
            assert password["name"] == name  # the Secret Strimzi writes for the service's KafkaUser
        assert {t["metadata"]["consumerGroup"] for t in scaled[name]["spec"]["triggers"]} == groups
        # KEDA runs in a namespace of its own: it must be given the broker's address in this one.
        namespace = scaled[name]["metadata"]["namespace"]
        assert {t["metadata"]["bootstrapServers"] for t in scaled[name]["spec"]["triggers"]} == {
            f"microcredit-kafka-bootstrap.{namespace}.svc:9093"
        }


def test_the_network_denies_by_default_and_lets_in_from_outside_only_the_workspace_and_sign_in(objects: list[dict[str, Any]]) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny and "egress" not in deny
    from_controller = {
        str(p["spec"]["podSelector"].get("matchLabels"))
        for p in policies.values()
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "ingress-nginx"
    }
    assert from_controller == {str({"app.kubernetes.io/name": "web"}), str({"app.kubernetes.io/name": "keycloak"})}
    ingresses = of_kind(objects, "Ingress")
    backends = {p["backend"]["service"]["name"] for i in ingresses.values() for r in i["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"web", "keycloak"}
    assert {p["path"] for r in ingresses["keycloak"]["spec"]["rules"] for p in r["http"]["paths"]} == {"/realms/", "/resources/"}
    services = policies["services"]["spec"]["ingress"]
    assert any(peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": "monitoring"} for r in services for peer in r["from"])


def test_no_secret_value_is_committed(objects: list[dict[str, Any]]) -> None:
    secrets = of_kind(objects, "Secret")
    # The one rendered Secret says how KEDA logs in: the mechanism and the principals' names, nothing secret.
    assert set(secrets) == {"kafka-scaler"}
    data = {k: base64.b64decode(v).decode() for k, v in secrets["kafka-scaler"]["data"].items()}
    assert data == {"sasl": "scram_sha512", "tls": "enable", **{name: name for name in CONSUMERS}}


def secret_names(node: Any) -> Iterator[str]:
    """The name of every Secret an object refers to, wherever its kind puts it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("secretKeyRef", "secretRef", "passwordSecret") and isinstance(value, dict):
                yield value["name"]
            elif key == "secret" and isinstance(value, dict) and "secretName" in value:
                yield value["secretName"]
            elif key == "secretTargetRef":
                yield from (ref["name"] for ref in value)
            elif key in ("accessKeyId", "secretAccessKey"):
                yield value["name"]
            else:
                yield from secret_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from secret_names(item)


def test_every_secret_referred_to_is_made_by_an_operator_or_listed_in_the_readme(objects: list[dict[str, Any]]) -> None:
    referred = {name for obj in objects for name in secret_names(obj)}
    # Strimzi's User Operator writes one Secret per KafkaUser; its Cluster Operator the cluster CA's.
    by_operators = {*of_kind(objects, "KafkaUser"), "microcredit-cluster-ca-cert"} | set(of_kind(objects, "Secret"))
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Secrets**"):readme.index("**Checked offline**")]
    listed = set(re.findall(r"`([a-z0-9-]+)`", section))
    assert referred - by_operators - listed == set()
    assert referred >= {"db-intake", "keycloak-realm", "backup-object-store", "notifications-smtp"}


def test_production_runs_the_pinned_keycloak_and_postgres(objects: list[dict[str, Any]]) -> None:
    dockerfile = (REPO_ROOT / "deploy" / "keycloak" / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG KEYCLOAK_VERSION={pinned('keycloak')}\n" in dockerfile
    (container,) = of_kind(objects, "Deployment")["keycloak"]["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(f":{pinned('keycloak')}")
    (cluster,) = of_kind(objects, "Cluster").values()
    assert cluster["spec"]["imageName"].rpartition(":")[2].split(".")[0] == pinned("postgres")
