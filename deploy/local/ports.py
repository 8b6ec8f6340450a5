"""Free TCP port helpers for services bound to the loopback interface."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass

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
