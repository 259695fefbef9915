"""The service's document keys, for migrations that re-seal data."""

from __future__ import annotations

from alembic import op

from api.db.document_crypto import DocumentCrypto
from api.settings import Settings


def migration_crypto() -> DocumentCrypto:
    """The keys of the settings `quanjing migrate` runs with (QUANJING_DATA_KEYS in production,
    the files under QUANJING_HOME in development); only asked for when rows exist."""
    config = op.get_context().config
    passed = None if config is None else config.attributes.get("settings")
    return DocumentCrypto.from_settings(passed if passed is not None else Settings.from_env())
