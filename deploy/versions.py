"""The one version of each infrastructure piece (deploy/versions.toml): local launcher, compose and test containers."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.toml")


@dataclass(frozen=True)
class Pinned:
    """A piece's version, and the official container image that runs it."""

    version: str
    image: str

    @property
    def image_ref(self) -> str:
        """The pinned image, e.g. `apache/kafka:4.4.0`."""
        return f"{self.image}:{self.version}"


@cache
def pinned(piece: str) -> Pinned:
    """The version and image pinned for `kafka` or `postgres`."""
    entry = tomllib.loads(VERSIONS_FILE.read_text(encoding="utf-8"))[piece]
    return Pinned(version=str(entry["version"]), image=str(entry["image"]))
