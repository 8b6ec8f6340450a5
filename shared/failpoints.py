"""Fault injection points for resilience tests (crash a consumer at a precise step)."""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)


class Failpoints:
    """Parsed `failpoints` setting: `name:argument` pairs separated by commas."""

    def __init__(self, spec: str) -> None:
        self._points = {
            tuple(part.split(":", 1)) for part in (p.strip() for p in spec.split(",")) if ":" in part
        }

    def hit(self, name: str, argument: str) -> None:
        """Kill this process at once (SIGKILL, no cleanup) if `name:argument` is armed."""
        if (name, argument) in self._points:
            log.warning("failpoint %s:%s reached: killing process %d", name, argument, os.getpid())
            os.kill(os.getpid(), signal.SIGKILL)
