"""The session's servers started side by side, in threads, as soon as the tests are collected.

Kafka, Zipkin and Keycloak each take seconds to boot (Keycloak tens of seconds on a fresh machine). Started one
after the other when the first test needs each, they added up on the suite's critical path; started here at once,
they boot while the tests that need none of them run (`conftest.pytest_collection_modifyitems` puts those first).
A server is still started only when a collected test needs it, and the session's fixtures wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from typing import Any

Opener = Callable[["BackgroundServers"], AbstractContextManager[Any]]


class BackgroundServers:
    """Servers by name: each opened (a context manager entered) in a thread, closed together at the end."""

    def __init__(self, openers: Mapping[str, Opener]) -> None:
        self._openers = dict(openers)
        self._pool = ThreadPoolExecutor(max_workers=len(self._openers), thread_name_prefix="server")
        self._futures: dict[str, Future[Any]] = {}
        self._opened = ExitStack()
        self._lock = threading.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        """The servers this session may start, in the order given."""
        return tuple(self._openers)

    def start(self, name: str) -> Future[Any]:
        """Start `name` unless it is starting or started; its future value (what its context manager yields)."""
        with self._lock:
            if name not in self._futures:
                self._futures[name] = self._pool.submit(self._open, name)
            return self._futures[name]

    def get(self, name: str) -> Any:
        """The value of `name` once started (started now if nothing asked for it before); its start's error if it failed."""
        return self.start(name).result()

    def _open(self, name: str) -> Any:
        opened = self._openers[name](self)
        value = opened.__enter__()
        with self._lock:
            self._opened.push(opened.__exit__)  # closed in the reverse order: Keycloak before the Postgres it uses
        return value

    def close(self) -> None:
        """Wait for the starts under way, then stop every server started."""
        for future in list(self._futures.values()):
            future.exception()  # a start that failed has nothing to stop
        self._pool.shutdown()
        self._opened.close()
