"""The platform's key-encryption key (KEK) for a local run: written once into the state directory, never replaced.

It wraps every applicant's data key in the keyring: losing it loses every personal field sealed so far, so it is
made on the first `make run` only (0600, like the Kafka passwords) and read again by every later one.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from shared.privacy.keyring import new_kek
from shared.privacy.sealing import KEY_HOLDERS


def kek_path(state_dir: Path) -> Path:
    """Where the local KEK is kept (git-ignored with the rest of the state directory)."""
    return state_dir / "privacy" / "kek"


def ensure_kek(state_dir: Path) -> str:
    """The local KEK, base64 (what `<SERVICE>_PRIVACY_KEK` takes), made the first time."""
    path = kek_path(state_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another `make run` wrote it meanwhile: keep theirs
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(new_kek()).decode() + "\n")
    return path.read_text().strip()


def privacy_env(service: str, kek: str) -> dict[str, str]:
    """The KEK for a service that seals or opens personal fields (`KEY_HOLDERS`); nothing for the others."""
    return {"PRIVACY_KEK": kek} if service in KEY_HOLDERS else {}
