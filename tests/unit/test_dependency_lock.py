"""uv.lock is what every install uses: it must say what pyproject.toml asks for.

`uv sync --locked` (make install) refuses a lock that disagrees with pyproject.toml; these tests
say so earlier, offline, and name the requirement that drifted. They read the same fields uv
compares: the project's requirements as recorded in the lock, its extras and Python range.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

Key = tuple[str, tuple[str, ...], str, str]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))


def _locked_project(lock: dict[str, Any]) -> dict[str, Any]:
    name = _pyproject()["project"]["name"]
    (project,) = [p for p in lock["package"] if p["name"] == name]
    found: dict[str, Any] = project
    return found


def _declared() -> set[Key]:
    project = _pyproject()["project"]
    wanted: list[tuple[str, str | None]] = [(text, None) for text in project["dependencies"]]
    for extra, texts in project["optional-dependencies"].items():
        wanted += [(text, extra) for text in texts]
    keys: set[Key] = set()
    for text, extra in wanted:
        req = Requirement(text)
        marker = f"extra == '{extra}'" if extra else ""
        keys.add(
            (
                str(canonicalize_name(req.name)),
                tuple(sorted(req.extras)),
                str(req.specifier),
                marker,
            )
        )
    return keys


def _recorded(project: dict[str, Any]) -> set[Key]:
    return {
        (
            str(canonicalize_name(dep["name"])),
            tuple(sorted(dep.get("extras", []))),
            str(Requirement(f"x{dep.get('specifier', '')}").specifier),
            dep.get("marker", ""),
        )
        for dep in project["metadata"]["requires-dist"]
    }


def test_the_lock_records_exactly_the_requirements_of_pyproject() -> None:
    declared, recorded = _declared(), _recorded(_locked_project(_lock()))
    assert declared - recorded == set(), "in pyproject.toml, not in uv.lock: run make lock"
    assert recorded - declared == set(), "in uv.lock, no longer in pyproject.toml: run make lock"


def test_the_lock_was_made_for_the_same_python_range_and_extras() -> None:
    project, lock = _pyproject()["project"], _lock()
    assert lock["requires-python"] == project["requires-python"]
    locked = _locked_project(lock)
    assert set(locked["metadata"].get("provides-extras", [])) == set(
        project["optional-dependencies"]
    )


def test_each_direct_requirement_is_locked_at_a_version_it_allows() -> None:
    lock = _lock()
    versions = {str(canonicalize_name(p["name"])): Version(p["version"]) for p in lock["package"]}
    for name, _extras, specifier, _marker in _declared():
        assert name in versions, f"{name} is not in uv.lock"
        assert Requirement(f"x{specifier}").specifier.contains(versions[name], prereleases=True), (
            f"uv.lock holds {name} {versions[name]}, pyproject.toml asks for {specifier}"
        )


def test_every_locked_file_carries_a_hash() -> None:
    for package in _lock()["package"]:
        if "registry" not in package["source"]:
            continue  # the project itself, installed from this folder
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, f"{package['name']} has no files in uv.lock"
        assert all(f.get("hash", "").startswith("sha256:") for f in files), package["name"]


def test_the_installer_and_the_build_backend_are_pinned() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    version = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert version is not None
    pins = (ROOT / ".ci" / "uv-requirements.txt").read_text(encoding="utf-8")
    assert f"uv=={version.group(1)} " in pins
    assert "--hash=sha256:" in pins
    # The build backend is not in uv.lock: it is pinned where the build reads it.
    (backend,) = _pyproject()["build-system"]["requires"]
    assert str(Requirement(backend).specifier).startswith("==")
