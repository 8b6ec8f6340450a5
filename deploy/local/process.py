"""Process helpers shared by the local launchers (Linux /proc based): process groups, locks, detached servers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

_T = TypeVar("_T")

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """Return the fields of /proc/<pid>/stat after the command name, or None if gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return raw[raw.rfind(")") + 2 :].split()


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so it does not linger as a zombie."""
    # ChildProcessError: not our child, so its own parent (or init) reaps it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    """Tell whether ``pid`` is a live process (zombies count as dead)."""
    reap(pid)
    if _PROC.is_dir():
        fields = _stat_fields(pid)
        return fields is not None and fields[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmdline(pid: int) -> list[str]:
    """Return the argv of ``pid`` (empty when the process is gone or unreadable)."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def group_pids(pgid: int) -> list[int]:
    """Return the live (non-zombie) processes whose process group is ``pgid``."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    found: list[int] = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # fields: state, ppid, pgrp, ...
        if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def child_pids(pid: int) -> list[int]:
    """Return the live children of ``pid`` (a Postgres postmaster's backends each lead a process group of their own)."""
    found: list[int] = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _wait_group_gone(pgid: int, deadline: float) -> bool:
    """Poll until no live process is left in ``pgid`` or ``deadline`` (monotonic) passes."""
    while True:
        reap(pgid)
        if not group_pids(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def terminate_group(pgid: int, timeout: float = 30.0) -> None:
    """SIGTERM the process group ``pgid``, wait up to ``timeout`` s, then SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if _wait_group_gone(pgid, time.monotonic() + timeout):
        return
    # A graceful shutdown that hangs must not leave a broker holding ports and data files.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not _wait_group_gone(pgid, time.monotonic() + 10.0):
        raise RuntimeError(f"processes {group_pids(pgid)} of group {pgid} survived SIGKILL")


def tail(path: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with path.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if needed) for the block's duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` on a private event loop in a helper thread and return its result."""
    # A helper thread works whether or not the caller is inside a running loop (asyncio.run
    # refuses to nest) and leaves the caller thread's current event loop untouched, which
    # matters under pytest-asyncio's session-scoped loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-probe") as pool:
        return pool.submit(asyncio.run, coro).result()


class ServerError(RuntimeError):
    """A local server did not start, or exited while starting."""


@dataclass
class Detached:
    """A server the launcher runs detached in its own process group: its pid file, its log, and the part of its
    command line (`marker`) that proves a pid read back from the file is still that server."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str
    proc: subprocess.Popen[bytes] | None = None

    def live_pid(self) -> int | None:
        """The server's pid while it runs, else None (a dead or reused pid is not it)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) and any(self.marker in part for part in cmdline(pid)) else None

    def launch(self, command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start `command` detached, its output in the log (the previous log kept as `.1`); its pid."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        if self.log_file.exists():
            self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                list(command), env=None if env is None else dict(env), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True, close_fds=True,
            )
        self.pid_file.write_text(f"{self.proc.pid}\n")
        return self.proc.pid

    def wait_until(self, ready: Callable[[], bool], deadline: float, what: str, error: type[Exception] = ServerError) -> None:
        """Poll `ready` until it says yes; `error` with the log's tail if the server exits or `deadline` passes."""
        while not ready():
            # The process this launcher started is asked directly; one started by another command, through its pid file.
            gone = self.proc.poll() is not None if self.proc is not None else self.live_pid() is None
            if gone:
                raise error(f"{self.name} exited during start-up:\n{tail(self.log_file, 30)}")
            if time.monotonic() > deadline:
                raise error(f"{self.name} did not answer {what} in time:\n{tail(self.log_file, 30)}")
            time.sleep(0.2)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server's whole process group; no-op when it is down."""
        pid = self.live_pid()
        if pid is not None:
            terminate_group(pid, timeout)
        if self.proc is not None:
            self.proc.wait()
            self.proc = None
        elif pid is not None:
            reap(pid)
        self.pid_file.unlink(missing_ok=True)


def answers(url: str) -> bool:
    """Whether `url` answers 200 (a server's health or discovery document)."""
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
