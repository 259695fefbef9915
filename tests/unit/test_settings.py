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
