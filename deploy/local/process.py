"""Process helpers shared by the local Kafka and Postgres launchers (Linux /proc based)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import os
import signal
import time
from collections import deque
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

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
