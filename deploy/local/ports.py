"""Free TCP port helpers for services bound to the loopback interface."""

from __future__ import annotations

import socket
from contextlib import ExitStack

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
