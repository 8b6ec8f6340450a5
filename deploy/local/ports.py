"""Free TCP port helpers for services bound to the loopback interface."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


def find_free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that the OS reports as free on ``host`` right now."""
    return find_free_ports(1, host)[0]


def find_free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct free TCP ports on ``host``."""
    # All sockets stay bound until every port is chosen, otherwise the OS may hand out the
    # same ephemeral port twice (e.g. the broker's and the controller's listener).
    with ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """Tell whether ``port`` can be bound on ``host`` (nobody listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR mirrors what Kafka and Postgres do, so a port in TIME_WAIT after our
        # own previous run is still considered usable.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def is_port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class PortChoice:
    """The port each process listens on, and those that could not have their preferred one."""

    ports: dict[str, int]
    moved: dict[str, tuple[int, int]]  # name -> (preferred port, port chosen instead)

    def messages(self) -> list[str]:
        """One line per process that could not have its preferred port, saying where it listens instead."""
        return [
            f"port {preferred} is taken: {name} listens on {chosen} instead"
            for name, (preferred, chosen) in self.moved.items()
        ]


def choose_ports(preferred: Mapping[str, int], host: str = LOOPBACK) -> PortChoice:
    """Give each name its preferred port when it is free, else a free port distinct from all the others."""
    taken = [name for name, port in preferred.items() if not is_port_free(port, host)]
    spare = iter(p for p in find_free_ports(len(taken) + len(preferred), host) if p not in preferred.values())
    ports, moved = dict(preferred), {}
    for name in taken:
        ports[name] = next(spare)
        moved[name] = (preferred[name], ports[name])
    return PortChoice(ports, moved)


def read_port_pair(path: Path, second: str) -> tuple[int, int] | None:
    """The (main, `second`) ports a server was given last time, from its `ports.json`, if any."""
    try:
        saved = json.loads(path.read_text())
        return int(saved["port"]), int(saved[second])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def choose_port_pair(saved: tuple[int, int] | None, requested: int | None) -> tuple[int, int]:
    """A server's main and second port: the requested one, else last time's if still free, else free ones.

    Raises `PortInUse` when the requested port is taken."""
    port = requested
    if port is not None and not is_port_free(port):
        raise PortInUse(port)
    if port is None and saved and is_port_free(saved[0]):
        port = saved[0]
    second = saved[1] if saved and saved[1] != port and is_port_free(saved[1]) else None
    fresh = [p for p in find_free_ports(3) if p not in (port, second)]
    return (port if port is not None else fresh.pop()), (second if second is not None else fresh.pop())


class PortInUse(RuntimeError):
    """The port asked for is already taken."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is already in use")
        self.port = port
