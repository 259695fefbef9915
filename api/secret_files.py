"""Development secrets kept in the data folder (a production install takes them from its
environment): the JWT secret, the document keys, the lookup key."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def development_secret_file(home: Path, name: str, make: Callable[[], str]) -> str:
    """The secret in `home/name`, made by `make` the first time and read back ever after.

    The file is created readable by its owner alone (os.open with 0600 and O_EXCL), never
    written first and restricted after: between the two, or for good if the process died
    there, any local user could read it. O_EXCL also leaves one of two racing processes
    the creator."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(make())
    return path.read_text(encoding="utf-8").strip()
