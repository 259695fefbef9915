"""Development secrets are never readable by other local users, not even for a moment."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from api.db.document_crypto import DocumentCrypto
from api.http.tokens import development_secret
from api.settings import Settings


@pytest.fixture
def open_umask() -> Iterator[None]:
    # The most permissive umask a machine may have: what a file is created with shows.
    previous = os.umask(0)
    yield None
    os.umask(previous)


def test_each_secret_file_is_created_for_its_owner_alone(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old way wrote the file, then restricted it: a process stopped in between (here,
    # chmod failing) left a secret any local user could read.
    def interrupted(self: Path, mode: int) -> None:
        raise RuntimeError("stopped between write and chmod")

    monkeypatch.setattr(Path, "chmod", interrupted)
    settings = replace(Settings.from_env({}), home=tmp_path / "home")
    first = development_secret(settings)
    DocumentCrypto.from_settings(settings)
    for name in ("jwt-secret", "data-keys", "lookup-key"):
        mode = stat.S_IMODE((settings.home / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert development_secret(settings) == first  # made once, read back after
