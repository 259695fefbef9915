"""The deployment files (Dockerfile, deploy/) name only what exists (issue 21): images can't be
pulled or built on these machines, so nothing runs them here; this test reads them and checks
every command, setting and path they name against the code and the repository."""

from __future__ import annotations

import re
from pathlib import Path

from api.cli import build_parser
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "Dockerfile",
    ROOT / "deploy" / "compose.yaml",
    ROOT / "deploy" / "quanjing.service",
    ROOT / "deploy" / "quanjing-worker.service",
    ROOT / "deploy" / "quanjing.env.example",
]
# Read by PostgreSQL's and Redis's own images, or by the shell, not by quanjing.
NOT_OURS = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "REDIS_PASSWORD"}
# Read by libraries quanjing runs (Python itself, uv while building).
LIBRARIES = {"PYTHONUNBUFFERED", "UV_PROJECT_ENVIRONMENT", "UV_PYTHON_DOWNLOADS",
             "UV_COMPILE_BYTECODE", "UV_LINK_MODE", "PATH"}  # fmt: skip


def _text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in FILES)


def _source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "api").rglob("*.py"))


def test_every_command_they_run_is_a_quanjing_command() -> None:
    # `"quanjing", "serve", …` in exec-form arrays, `…/bin/quanjing serve …` in unit files.
    invoked = re.findall(r'(?:"quanjing",\s*"|/bin/quanjing\s+)([a-z][a-z-]*)', _text())
    subparsers = next(
        a for a in build_parser(Settings.from_env({}))._actions if a.dest == "command"
    )
    known = set(subparsers.choices)  # type: ignore[arg-type]
    assert {"serve", "worker", "migrate"} <= set(invoked)
    assert set(invoked) <= known, set(invoked) - known
    serve = subparsers.choices["serve"]  # type: ignore[index]
    options = {o for a in serve._actions for o in a.option_strings}
    # The flags given to `quanjing serve`, wherever it is started.
    lines = [line for line in _text().splitlines() if re.search(r'quanjing"?,? *"?serve', line)]
    assert lines
    flags = {flag for line in lines for flag in re.findall(r"(--[a-z][a-z-]+)", line)}
    assert {"--host", "--port", "--workers"} <= flags
    assert flags <= options, flags - options


def test_every_setting_they_name_is_read_by_the_code() -> None:
    source = _source()
    names = set(re.findall(r"\b(QUANJING_[A-Z_]+|DATABASE_URL|REDIS_URL)\b", _text()))
    assert names
    for name in names:
        assert f'"{name}"' in source, f"{name} is set by a deployment file but read nowhere"
    others = set(re.findall(r"^\s*([A-Z][A-Z_]+)[:=]", _text(), re.M)) - names
    unknown = others - NOT_OURS - LIBRARIES - {"ENV"}
    assert not unknown, unknown


def test_every_path_they_copy_or_call_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for sources in re.findall(r"^COPY (?!--from)(.+?) \S+$", dockerfile, re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), source
    app_routes = {
        getattr(route, "path", "")
        for route in __import__("api.http.app", fromlist=["create_app"])
        .create_app(Settings.from_env({}))
        .routes
    }
    for route in re.findall(r"127\.0\.0\.1:\d+(/[a-z]+)", _text()):
        assert route in app_routes, route
    compose = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    assert "env_file: quanjing.env" in compose
    assert (ROOT / "deploy" / "quanjing.env.example").exists()
    assert "image: postgres:18" in compose
    assert "image: redis:7" in compose
    assert '"--workers", "2"' in compose
    assert 'command: ["quanjing", "migrate"]' in compose
    assert "service_completed_successfully" in compose
    assert "USER quanjing" in dockerfile
    assert "uv sync --locked" in dockerfile
    assert "/readyz" in dockerfile.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
