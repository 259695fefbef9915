"""The command line refuses what would fail later, by name, before it starts anything."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from api.cli import build_parser, cmd_token
from api.http.tokens import development_secret
from api.settings import Settings


@pytest.fixture
def cli_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"QUANJING_HOME": str(tmp_path), "QUANJING_JWT_SECRET": "s" * 40})


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "99999"],  # used to start the embedded servers, then hang
        ["serve", "--port", "0"],
        ["serve", "--workers", "0"],
        ["seed", "--customers", "-5"],
        ["demo", "--customers", "many"],
        ["token", "--role", "agent", "--sub", "a", "--ttl", "0"],
    ],
)
def test_a_value_out_of_range_is_a_usage_error(
    cli_settings: Settings, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser(cli_settings).parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "must be from" in err or "whole number" in err


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--role", "agent", "--sub", "x" * 101], "longer than 100"),
        (["--role", "customer", "--sub", "c1"], "customer id"),
    ],
)
def test_a_token_the_server_would_refuse_is_not_minted(
    cli_settings: Settings, argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser(cli_settings).parse_args(["token", *argv])
    assert cmd_token(cli_settings, args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert reason in err


def test_a_token_the_server_accepts_is_printed(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser(cli_settings).parse_args(
        ["token", "--role", "customer", "--sub", "c1", "--customer", "7"]
    )
    assert cmd_token(cli_settings, args) == 0
    claims = jwt.decode(
        capsys.readouterr().out.strip(),
        development_secret(cli_settings),
        algorithms=["HS256"],
        audience=cli_settings.jwt_audience,
    )
    assert (claims["sub"], claims["role"], claims["cid"]) == ("c1", "customer", 7)
