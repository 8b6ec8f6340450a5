"""The tools that check deploy/k8s offline: kustomize and the operators' CRDs, fetched once into .local/k8s.

`python -m deploy.k8s_tools ensure` (run by `make install`) builds kustomize with `go install` from the Go module
proxy and fetches the CRDs of the operators the manifests are written for, at the versions of
deploy/versions.toml, each download checked against its SHA-256:

- CloudNativePG and KEDA: their `config/crd/bases/*.yaml`, from their Go module zips (the Go module proxy);
- Strimzi: no registry carries its CRD files, so its own generator (`io.strimzi:crd-generator`, Java 21+) writes
  them from its published API classes (`io.strimzi:api`), with the arguments Strimzi's build gives it.

`python -m deploy.k8s_tools render` prints the example overlay, as tests/unit/test_k8s_manifests.py reads it.
Nothing is fetched again while the versions stay the same.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from pathlib import Path

# The same JDK search as Keycloak's: Strimzi's CRD generator needs Java 21+ too.
from deploy.local.keycloak_dist import find_java_home
from deploy.versions import VERSIONS_FILE

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / ".local" / "k8s"
KUSTOMIZE = TOOLS_DIR / "bin" / "kustomize"
CRD_DIR = TOOLS_DIR / "crds"
OVERLAY = REPO_ROOT / "deploy" / "k8s" / "overlays" / "example"
GO_PROXY = os.environ.get("GOPROXY_URL", "https://proxy.golang.org")
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
# The CRD files each Go module carries (config/crd/bases), for the kinds deploy/k8s uses.
MODULE_CRDS = {
    "cloudnative-pg": (
        "github.com/cloudnative-pg/cloudnative-pg",
        ("postgresql.cnpg.io_clusters.yaml", "postgresql.cnpg.io_databases.yaml", "postgresql.cnpg.io_scheduledbackups.yaml"),
    ),
    "keda": ("github.com/kedacore/keda/v2", ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml")),
}
# Strimzi's generator: the API class of each kind deploy/k8s uses, and the file it writes.
STRIMZI_KINDS = {
    "io.strimzi.api.kafka.model.kafka.Kafka": "kafka.strimzi.io_kafkas.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "kafka.strimzi.io_kafkanodepools.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "kafka.strimzi.io_kafkatopics.yaml",
    "io.strimzi.api.kafka.model.user.KafkaUser": "kafka.strimzi.io_kafkausers.yaml",
}
STRIMZI_JARS = ("api", "crd-annotations", "crd-generator")


class K8sToolsError(RuntimeError):
    """Raised when a tool cannot be fetched, verified or built."""


def _versions() -> dict[str, dict[str, object]]:
    return tomllib.loads(VERSIONS_FILE.read_text(encoding="utf-8"))


def _fingerprint() -> str:
    pieces = _versions()
    return repr({name: pieces[name] for name in ("kustomize", "strimzi", "cloudnative-pg", "keda")})


def _download(url: str, sha256: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as answer:
        body = answer.read()
    got = hashlib.sha256(body).hexdigest()
    if got != sha256:
        raise K8sToolsError(f"{url}: SHA-256 {got}, deploy/versions.toml expects {sha256}")
    return body


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if go is None:
        raise K8sToolsError("Go ('go') is not on PATH; it builds kustomize once (deploy/versions.toml [kustomize])")
    return go


def ensure_kustomize() -> Path:
    """Build the pinned kustomize into .local/k8s/bin unless that version is there."""
    version = str(_versions()["kustomize"]["version"])
    stamp = KUSTOMIZE.with_suffix(".version")
    if KUSTOMIZE.is_file() and stamp.is_file() and stamp.read_text() == version:
        return KUSTOMIZE
    KUSTOMIZE.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [_go(), "install", f"sigs.k8s.io/kustomize/kustomize/v5@v{version}"],
        env={**os.environ, "GOBIN": str(KUSTOMIZE.parent), "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"},
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise K8sToolsError(f"go install of kustomize v{version} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    stamp.write_text(version)
    return KUSTOMIZE


def _module_crds(target: Path) -> None:
    for name, (module, files) in MODULE_CRDS.items():
        piece = _versions()[name]
        version = f"v{piece['version']}"
        archive = zipfile.ZipFile(io.BytesIO(_download(f"{GO_PROXY}/{module}/@v/{version}.zip", str(piece["sha256"]))))
        for file in files:
            (target / file).write_bytes(archive.read(f"{module}@{version}/config/crd/bases/{file}"))


def _strimzi_crds(target: Path) -> None:
    piece = _versions()["strimzi"]
    version, sums = str(piece["version"]), piece["sha256"]
    assert isinstance(sums, dict)
    jars = TOOLS_DIR / "strimzi"
    jars.mkdir(parents=True, exist_ok=True)
    classpath = []
    for artifact in STRIMZI_JARS:
        jar = jars / f"{artifact}-{version}.jar"
        jar.write_bytes(_download(f"{MAVEN_CENTRAL}/io/strimzi/{artifact}/{version}/{artifact}-{version}.jar", str(sums[artifact])))
        classpath.append(str(jar))
    # The arguments of Strimzi's own build (api/pom.xml, execution `generate-crds`): CRD API v1, kinds served as v1.
    done = subprocess.run(
        [
            str(find_java_home(21) / "bin" / "java"), "-cp", os.pathsep.join(classpath), "io.strimzi.crdgenerator.CrdGenerator",
            "--label", "app:strimzi", "--label", "strimzi.io/crd-install:true", "--target-kube", "1.16+",
            "--crd-api-version", "v1", "--api-versions", "v1", "--storage-version", "v1", "--yaml",
            *(f"{cls}={target / file}" for cls, file in STRIMZI_KINDS.items()),
        ],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise K8sToolsError(f"Strimzi's CRD generator failed (exit {done.returncode}):\n{done.stderr[-4000:]}")


def ensure_crds() -> Path:
    """Fetch (or generate) the operators' CRDs into .local/k8s/crds unless these versions' are there."""
    stamp = CRD_DIR / ".versions"
    if stamp.is_file() and stamp.read_text() == _fingerprint():
        return CRD_DIR
    partial = CRD_DIR.with_name("crds.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    _module_crds(partial)
    _strimzi_crds(partial)
    (partial / ".versions").write_text(_fingerprint())
    shutil.rmtree(CRD_DIR, ignore_errors=True)
    partial.rename(CRD_DIR)
    return CRD_DIR


def render(overlay: Path = OVERLAY) -> str:
    """The overlay's manifests as `kubectl apply` would get them (the realm file lives outside deploy/k8s)."""
    done = subprocess.run(
        [str(KUSTOMIZE), "build", "--load-restrictor", "LoadRestrictionsNone", str(overlay)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise K8sToolsError(f"kustomize build {overlay} failed:\n{done.stderr}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    """`ensure` fetches what is missing; `render` prints the example overlay."""
    command = (argv if argv is not None else sys.argv[1:] or ["ensure"])[0]
    try:
        if command == "ensure":
            ensure_kustomize()
            ensure_crds()
        elif command == "render":
            sys.stdout.write(render())
        else:
            print(f"usage: python -m deploy.k8s_tools [ensure|render] (not {command!r})", file=sys.stderr)
            return 2
    except K8sToolsError as failed:
        print(failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
