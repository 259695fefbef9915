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


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QUANJING_ENV": "staging"}, "QUANJING_ENV"),
        ({"QUANJING_DB_POOL_SIZE": "many"}, "QUANJING_DB_POOL_SIZE"),
        ({"QUANJING_DB_POOL_SIZE": "0"}, "QUANJING_DB_POOL_SIZE"),
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
