"""Keycloak's distribution, fetched from Maven Central and built once; and a Java new enough to run it.

Fetched once with Maven (`org.keycloak:keycloak-quarkus-dist:<version>:zip`, the version pinned in
`deploy/versions.toml`) into the git-ignored `.local/keycloak/`, unpacked, and built once (`kc.sh
build`: the Quarkus augmentation, about a minute); every later start reuses it, offline. Keycloak needs
Java 21 or newer, which is not the machine's default Java here: `find_java_home` looks for one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from deploy.local import REPO_ROOT
from deploy.local.process import file_lock

MIN_JAVA = 21
DEFAULT_CACHE_DIR = REPO_ROOT / ".local" / "keycloak"
# Build-time options are baked into the built distribution; changing them needs another build.
BUILD_OPTIONS = ("--db=postgres", "--health-enabled=true", "--http-relative-path=/")


class KeycloakError(RuntimeError):
    """Raised when Keycloak cannot be fetched, built, started or stopped."""


def java_major(java_home: Path) -> int | None:
    """The major version of the JDK at `java_home`, from its `release` file (None if unreadable)."""
    try:
        text = (java_home / "release").read_text()
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(\d+)', text, flags=re.M)
    return int(found.group(1)) if found else None


def find_java_home(minimum: int = MIN_JAVA) -> Path:
    """A JDK new enough for Keycloak: $KEYCLOAK_JAVA_HOME, $JAVA_HOME, or the newest in the JVM directory."""
    for variable in ("KEYCLOAK_JAVA_HOME", "JAVA_HOME"):
        if (value := os.environ.get(variable)) and (java_major(Path(value)) or 0) >= minimum:
            return Path(value)
    candidates: list[tuple[int, Path]] = []
    for root in (Path("/usr/lib/jvm"), Path("/opt/java"), Path.home() / ".sdkman" / "candidates" / "java"):
        if root.is_dir():
            for home in root.iterdir():
                major = java_major(home)
                if major is not None and major >= minimum and (home / "bin" / "java").is_file():
                    candidates.append((major, home))
    if java := shutil.which("java"):
        home = Path(java).resolve().parents[1]
        if (major := java_major(home)) is not None and major >= minimum:
            candidates.append((major, home))
    if not candidates:
        raise KeycloakError(
            f"Keycloak needs Java {minimum} or newer and none was found: install one (a Temurin JDK) "
            "or set KEYCLOAK_JAVA_HOME"
        )
    return max(candidates)[1]


class Distribution:
    """The built Keycloak distribution, shared by every state dir: fetched, unpacked and built once."""

    def __init__(self, version: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> None:
        self.version = version
        self.cache_dir = cache_dir
        self.home = cache_dir / f"keycloak-{version}"
        self.marker = self.home / ".built"

    def fingerprint(self) -> str:
        return json.dumps({"version": self.version, "build": BUILD_OPTIONS})

    def ready(self) -> bool:
        """Whether the distribution is unpacked and built with today's build options."""
        return self.marker.is_file() and self.marker.read_text() == self.fingerprint()

    def ensure(self, java_home: Path) -> Path:
        """Fetch, unpack and build unless done already; return the distribution's home."""
        if self.ready():
            return self.home
        # Platform and test sessions share the built distribution: one of them builds it.
        with file_lock(self.cache_dir / ".dist.lock"):
            if self.ready():
                return self.home
            archive = self._fetch()
            shutil.rmtree(self.home, ignore_errors=True)
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(self.cache_dir)
            for script in (self.home / "bin").glob("*.sh"):
                script.chmod(0o755)  # zip files keep no permissions
            done = subprocess.run(
                [str(self.home / "bin" / "kc.sh"), "build", *BUILD_OPTIONS],
                env={**os.environ, "JAVA_HOME": str(java_home)}, capture_output=True, text=True, check=False,
            )
            if done.returncode != 0:
                raise KeycloakError(f"kc.sh build failed (exit {done.returncode}):\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
            self.marker.write_text(self.fingerprint())
        return self.home

    def _fetch(self) -> Path:
        """The distribution's zip, from the local Maven repository or Maven Central."""
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KeycloakError("Maven ('mvn') is not on PATH; it is needed once to fetch Keycloak")
        target = self.cache_dir / "download"
        target.mkdir(parents=True, exist_ok=True)
        command = [
            mvn, "-q", "-B", "-Dstyle.color=never", "dependency:copy",
            f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{self.version}:zip", f"-DoutputDirectory={target}",
        ]
        if os.environ.get("MC_MAVEN_OFFLINE") == "1":
            command.append("-o")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        archive = target / f"keycloak-quarkus-dist-{self.version}.zip"
        if done.returncode != 0 or not archive.is_file():
            raise KeycloakError(f"Maven could not fetch Keycloak {self.version}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
        return archive


