"""What every feature of the schema uses: the request context, authorization, errors,
limits, paging, the read audit and the persisted operations."""

# The domain enums are registered with strawberry here, so that importing anything of the
# core — as every feature module does first — registers them before a type uses one.
from schema.core import enums  # noqa: F401
