"""HAProxy in front of a service's replicas: one address per service, whatever `make run REPLICAS=n` started.

The server is Debian's own package (`apt-get download haproxy` and the three libraries it needs that a
bare machine lacks), unpacked with `dpkg -x` into the git-ignored `.local/haproxy/` once, shared by every
state dir and run from there with `LD_LIBRARY_PATH` (nothing installed on the system). Each service gets a
frontend on its printed address and a backend of its replicas: round robin, `/ready` checked every half
second, a replica that refuses a connection marked down at once and the request sent to another one
(`retry-on conn-failure`: never a request a replica may have started on; `http-reuse never`, so a request is
never sent over an idle connection to a replica that died meanwhile). It is ready when every fronted
address answers `/ready` through it, never after a sleep; `stop` ends its process group.

    python -m deploy.local.haproxy fetch     # the binary, once (make run REPLICAS=n does it when missing)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploy.local import REPO_ROOT
from deploy.local.ports import LOOPBACK
from deploy.local.process import Detached, answers, file_lock

CACHE_DIR = REPO_ROOT / ".local" / "haproxy"
# Debian's haproxy and what it links that a bare Debian lacks (libc, OpenSSL, PCRE2, systemd are there).
PACKAGES = ("haproxy", "liblua5.3-0", "libopentracing-c-wrapper0", "libopentracing1")
DEFAULT_START_TIMEOUT = 30.0


class HaproxyError(RuntimeError):
    """HAProxy could not be fetched or did not start."""


def _root(cache_dir: Path) -> Path:
    return cache_dir / "root"


def _binary(cache_dir: Path) -> Path:
    return _root(cache_dir) / "usr" / "sbin" / "haproxy"


def _env(cache_dir: Path) -> dict[str, str]:
    return {**os.environ, "LD_LIBRARY_PATH": str(_root(cache_dir) / "usr" / "lib" / "x86_64-linux-gnu")}


def ensure_binary(cache_dir: Path = CACHE_DIR) -> Path:
    """Debian's haproxy unpacked under `cache_dir` (fetched with apt-get the first time); its path."""
    marker = cache_dir / ".unpacked"
    if marker.is_file() and _binary(cache_dir).is_file():
        return _binary(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(cache_dir / ".fetch.lock"):
        if marker.is_file() and _binary(cache_dir).is_file():
            return _binary(cache_dir)
        if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
            raise HaproxyError("apt-get and dpkg are needed once to fetch Debian's haproxy package")
        with tempfile.TemporaryDirectory(dir=cache_dir) as download:
            done = subprocess.run(["apt-get", "download", *PACKAGES], cwd=download, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise HaproxyError(f"apt-get download {' '.join(PACKAGES)} failed:\n{done.stderr[-3000:]}")
            shutil.rmtree(_root(cache_dir), ignore_errors=True)
            for deb in sorted(Path(download).glob("*.deb")):
                subprocess.run(["dpkg", "-x", str(deb), str(_root(cache_dir))], check=True, capture_output=True)
        version = subprocess.run([str(_binary(cache_dir)), "-v"], env=_env(cache_dir), capture_output=True, text=True, check=False)
        if version.returncode != 0:
            raise HaproxyError(f"the unpacked haproxy does not run:\n{version.stderr[-2000:]}")
        marker.write_text(version.stdout.splitlines()[0] + "\n")  # written last: an interrupted fetch is redone
    return _binary(cache_dir)


def config(fronts: Mapping[str, tuple[int, Sequence[str]]]) -> str:
    """The configuration: per name, a frontend on its port and a backend of its replicas' base URLs."""
    lines = [
        "global",
        "    maxconn 4096",
        "    log stdout format raw local0 notice",  # servers going down and up, in the log file
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        "    timeout connect 2s",
        # The close of business answers once its whole run is done: minutes for a large portfolio.
        "    timeout client 10m",
        "    timeout server 10m",
        "    retries 3",
        "    option redispatch 1",
        # Only a connection refused is retried elsewhere: a request a replica may have applied never is.
        "    retry-on conn-failure",
        # A fresh connection to the replica for every request: an idle one kept from before would be the dead
        # replica's, and HAProxy then closes the client's connection without an answer (a POST lost for the client).
        "    http-reuse never",
        "    default-server check inter 500ms fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down",
    ]
    for name, (port, urls) in sorted(fronts.items()):
        lines += [
            "",
            f"frontend {name}",
            f"    bind {LOOPBACK}:{port}",
            f"    default_backend {name}",
            "",
            f"backend {name}",
            "    balance roundrobin",
            "    option httpchk GET /ready",
            "    http-check expect status 200",
        ]
        lines += [f"    server {name}-{k} {url.split('://', 1)[-1].rstrip('/')}" for k, url in enumerate(urls, start=1)]
    return "\n".join(lines) + "\n"


class LocalHaproxy:
    """One HAProxy whose configuration, pid and log live under `state_dir/haproxy`."""

    def __init__(self, state_dir: Path, *, cache_dir: Path = CACHE_DIR, start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.base = Path(state_dir).resolve() / "haproxy"
        self.config_file = self.base / "haproxy.cfg"
        self.cache_dir = cache_dir
        self.server = Detached("HAProxy", self.base / "haproxy.pid", self.base / "haproxy.log", marker=str(self.config_file))
        self.start_timeout = start_timeout

    def start(self, fronts: Mapping[str, tuple[int, Sequence[str]]], wait_for: Sequence[str] | None = None) -> dict[str, str]:
        """Front each name's replicas on its port; the fronted base URLs, once those of `wait_for` (default: all)
        answer `/ready` through HAProxy."""
        binary = ensure_binary(self.cache_dir)
        self.base.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(config(fronts))
        checked = subprocess.run([str(binary), "-c", "-q", "-f", str(self.config_file)], env=_env(self.cache_dir),
                                 capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            raise HaproxyError(f"haproxy refuses {self.config_file}:\n{checked.stdout}{checked.stderr}")
        # -db: in the foreground, in its own process group like every other local server.
        self.server.launch([str(binary), "-db", "-f", str(self.config_file)], env=_env(self.cache_dir), cwd=self.base)
        urls = {name: f"http://{LOOPBACK}:{port}" for name, (port, _) in fronts.items()}
        try:
            self.wait_ready({name: url for name, url in urls.items() if wait_for is None or name in wait_for})
        except HaproxyError:
            self.stop()
            raise
        return urls

    def wait_ready(self, urls: Mapping[str, str]) -> None:
        """Wait until each fronted address answers `/ready` through the proxy (a replica behind it is ready)."""
        deadline = time.monotonic() + self.start_timeout
        for name, url in urls.items():
            self.server.wait_until(lambda u=url: answers(f"{u}/ready"), deadline, f"{url}/ready ({name})", HaproxyError)

    def running(self) -> bool:
        """Whether the proxy runs."""
        return self.server.live_pid() is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the proxy; no-op when it is down."""
        self.server.stop(timeout)


def main(argv: list[str] | None = None) -> int:
    """`fetch`: the binary, once."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["fetch"]:
        print("usage: python -m deploy.local.haproxy fetch", file=sys.stderr)
        return 2
    binary = ensure_binary()
    print(binary, (CACHE_DIR / ".unpacked").read_text().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
