"""Settings come from the environment and refuse malformed values by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings, SettingsError


def test_defaults_are_development_with_embedded_servers_under_dot_quanjing() -> None:
    settings = Settings.from_env({})
    assert settings.environment == "development"
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.home == Path(".quanjing").resolve()
    assert settings.demo_customers == 2000
    assert settings.db_pool_size == 30


def test_urls_and_home_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://db.example/quanjing",
            "REDIS_URL": "redis://cache.example:6379/0",
            "QUANJING_HOME": str(tmp_path),
            "QUANJING_ENV": "production",
            "QUANJING_JWKS_URL": "https://idp.example/.well-known/jwks.json",
            "QUANJING_DATA_KEYS": "k1:" + "A" * 43 + "=",
            "QUANJING_LOOKUP_KEY": "B" * 43 + "=",
        }
    )
    assert settings.database_url == "postgresql://db.example/quanjing"
    assert settings.redis_url == "redis://cache.example:6379/0"
    assert settings.home == tmp_path
    assert settings.is_production


def test_replica_urls_are_a_comma_separated_list() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://primary.example/quanjing",
            "DATABASE_REPLICA_URLS": " postgresql://r1.example/quanjing, postgres://r2/quanjing ,",
            "QUANJING_REPLICA_MAX_LAG_SECONDS": "3",
        }
    )
    assert settings.database_replica_urls == (
        "postgresql://r1.example/quanjing",
        "postgres://r2/quanjing",
    )
    assert settings.replica_max_lag_seconds == 3
    assert Settings.from_env({}).database_replica_urls == ()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QUANJING_ENV": "staging"}, "QUANJING_ENV"),
        ({"QUANJING_DB_POOL_SIZE": "many"}, "QUANJING_DB_POOL_SIZE"),
        ({"QUANJING_DB_POOL_SIZE": "0"}, "QUANJING_DB_POOL_SIZE"),
        # Replicas follow an external primary; each is a PostgreSQL URL.
        ({"DATABASE_REPLICA_URLS": "postgresql://r1/quanjing"}, "needs DATABASE_URL"),
        (
            {"DATABASE_URL": "postgresql://p/q", "DATABASE_REPLICA_URLS": "redis://r1/0"},
            "DATABASE_REPLICA_URLS",
        ),
        (
            {"DATABASE_URL": "postgresql://p/q", "QUANJING_REPLICA_MAX_LAG_SECONDS": "0"},
            "QUANJING_REPLICA_MAX_LAG_SECONDS",
        ),
        ({"QUANJING_DB_POOLER": "pgpool"}, "QUANJING_DB_POOLER"),
        ({"QUANJING_REDIS_CLUSTER": "1"}, "needs REDIS_URL"),
    ],
)
def test_a_malformed_setting_is_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


PRODUCTION = {
    "QUANJING_ENV": "production",
    "QUANJING_JWKS_URL": "https://idp.example/.well-known/jwks.json",
    "QUANJING_DATA_KEYS": "k1:" + "A" * 43 + "=",
    "QUANJING_LOOKUP_KEY": "B" * 43 + "=",
}


@pytest.mark.parametrize("algorithms", ["HS256", "RS256,HS512", "RS256,none"])
def test_production_accepts_only_asymmetric_token_algorithms(algorithms: str) -> None:
    with pytest.raises(SettingsError, match="QUANJING_JWT_ALGORITHMS"):
        Settings.from_env({**PRODUCTION, "QUANJING_JWT_ALGORITHMS": algorithms})
    accepted = Settings.from_env({**PRODUCTION, "QUANJING_JWT_ALGORITHMS": "RS256, ES384"})
    assert accepted.jwt_algorithms == ("RS256", "ES384")


def test_a_token_lifetime_has_a_ceiling_of_a_day_by_default() -> None:
    assert Settings.from_env({}).jwt_max_lifetime_seconds == 24 * 3600
    with pytest.raises(SettingsError, match="QUANJING_JWT_MAX_LIFETIME_SECONDS"):
        Settings.from_env({"QUANJING_JWT_MAX_LIFETIME_SECONDS": "0"})


def test_every_bad_setting_is_named_in_one_error() -> None:
    """Issue 21: an operator fixes them all in one go, not one restart per mistake."""
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(
            {
                "QUANJING_DB_POOL_SIZE": "many",
                "QUANJING_LOG_FORMAT": "xml",
                "QUANJING_LOG_LEVEL": "loud",
                "QUANJING_CORS_ORIGINS": "https://desk.bank.example,desk.bank.example/path",
                "DATABASE_URL": "mysql://db/quanjing",
                "QUANJING_DATA_KEYS": "k1:not-base64!",
                "QUANJING_HIGH_VALUE_SHARE": "2",
            }
        )
    message = str(refused.value)
    assert message.startswith("7 settings are wrong:")
    for name in (
        "QUANJING_DB_POOL_SIZE",
        "QUANJING_LOG_FORMAT",
        "QUANJING_LOG_LEVEL",
        "QUANJING_CORS_ORIGINS: 'desk.bank.example/path'",
        "DATABASE_URL",
        "data key 'k1'",
        "QUANJING_HIGH_VALUE_SHARE",
    ):
        assert name in message, name
    assert "https://desk.bank.example'" not in message  # the good origin is not blamed


def test_origins_log_format_and_metrics_are_read() -> None:
    settings = Settings.from_env(
        {
            "QUANJING_CORS_ORIGINS": "https://desk.bank.example/, http://localhost:5173",
            "QUANJING_LOG_FORMAT": "JSON",
            "QUANJING_METRICS_PORT": "9464",
        }
    )
    assert settings.cors_origins == ("https://desk.bank.example", "http://localhost:5173")
    assert settings.log_format == "json"
    assert settings.metrics_port == 9464
    assert settings.metrics_host == "127.0.0.1"
    assert Settings.from_env({}).cors_origins == ()  # none unless set


def test_quanjing_config_prints_the_configuration_without_its_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from api.cli import main

    for name, value in {
        "QUANJING_HOME": str(tmp_path),
        "DATABASE_URL": "postgresql://quanjing:hunter2@db.bank.example:5432/quanjing",
        "REDIS_URL": "rediss://:s3cr3t@cache.bank.example:6380/0",
        "QUANJING_JWT_SECRET": "very-secret-signing-key",
        "QUANJING_CORS_ORIGINS": "https://desk.bank.example",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["config"]) == 0
    shown = capsys.readouterr().out
    assert "hunter2" not in shown
    assert "s3cr3t" not in shown
    assert "very-secret-signing-key" not in shown
    assert "database_url = postgresql://quanjing:***@db.bank.example:5432/quanjing" in shown
    assert "redis_url = rediss://:***@cache.bank.example:6380/0" in shown
    assert "jwt_secret = (set)" in shown
    assert "cors_origins = ('https://desk.bank.example',)" in shown
    monkeypatch.setenv("QUANJING_LOG_FORMAT", "yaml")
    monkeypatch.setenv("QUANJING_DB_POOL_SIZE", "-1")
    assert main(["config"]) == 2
    refused = capsys.readouterr().err
    assert "2 settings are wrong" in refused
    assert "QUANJING_LOG_FORMAT" in refused
    assert "QUANJING_DB_POOL_SIZE" in refused
