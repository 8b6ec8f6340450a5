"""The one version of each infrastructure piece (deploy/versions.toml): local launcher, compose and test containers."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.toml")


@cache
def pinned(piece: str) -> str:
    """The version pinned for `kafka` (a release, 4.4.0) or `postgres` (a major version, 15)."""
    return str(tomllib.loads(VERSIONS_FILE.read_text(encoding="utf-8"))[piece]["version"])
