"""Settings from the environment: one frozen object, read once at start."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from domain.identity.matching import REVIEW_THRESHOLD
from domain.identity.merging import AutoMerge

Environment = Literal["development", "production"]
# What production accepts: signatures only the identity provider can make.
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


T = TypeVar("T")
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it (every one, at start)."""


def _decode_key(kid: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise SettingsError(f"data key {kid!r} is not base64") from exc
    if len(key) != 32:
        raise SettingsError(f"data key {kid!r} must be 32 bytes (AES-256), got {len(key)}")
    return key


def parse_data_keys(spec: str) -> dict[str, bytes]:
    """ "k2:BASE64,k1:BASE64" → {"k2": …, "k1": …}, in order (the first is active)."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kid, sep, encoded = item.partition(":")
        if not sep or not kid:
            raise SettingsError("QUANJING_DATA_KEYS entries are kid:base64key")
        keys[kid] = _decode_key(kid, encoded)
    if not keys:
        raise SettingsError("QUANJING_DATA_KEYS holds no key")
    return keys


def parse_lookup_keys(spec: str) -> dict[str, bytes]:
    """One bare base64 key (kid "default"), or "kid:base64,…" with the active key first."""
    if ":" not in spec:
        return {"default": _decode_key("lookup", spec.strip())}
    try:
        return parse_data_keys(spec)
    except SettingsError as exc:
        raise SettingsError(f"QUANJING_LOOKUP_KEY: {exc}") from exc


def _networks(env: Mapping[str, str], name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    found = []
    for part in env.get(name, "").split(","):
        if part.strip():
            try:
                found.append(ip_network(part.strip()))
            except ValueError as exc:
                raise SettingsError(f"{name}: {part.strip()!r} is not a network (CIDR)") from exc
    return tuple(found)


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _auto_merge(env: Mapping[str, str]) -> AutoMerge:
    try:
        return AutoMerge.parse(env.get("QUANJING_AUTO_MERGE", ""), REVIEW_THRESHOLD)
    except ValueError as exc:
        raise SettingsError(f"QUANJING_AUTO_MERGE: {exc}") from exc


def _share(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name) or default
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:
        raise SettingsError(f"{name} must be a fraction such as 0.20, got {raw!r}") from exc
    if not value.is_finite() or not 0 < value < 1:
        raise SettingsError(f"{name} must be above 0 and below 1, got {raw!r}")
    return value


class _Reader:
    """Reads the environment and collects every bad setting instead of stopping at the first:
    an operator fixes them all in one go (`from_env` raises one SettingsError naming each)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def _checked(self, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except SettingsError as exc:
            self.problems.append(str(exc))
            return fallback

    def int(self, name: str, default: int, *, minimum: int = 0) -> int:
        return self._checked(lambda: _int(self.env, name, default, minimum=minimum), default)

    def share(self, name: str, default: str) -> Decimal:
        return self._checked(lambda: _share(self.env, name, default), Decimal(default))

    def networks(self, name: str) -> tuple[IPv4Network | IPv6Network, ...]:
        return self._checked(lambda: _networks(self.env, name), ())

    def auto_merge(self) -> AutoMerge:
        return self._checked(lambda: _auto_merge(self.env), AutoMerge())

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = (self.env.get(name) or default).strip()
        if value.lower() not in allowed:
            self.problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
            return default
        return value.lower()

    def url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        value = self.env.get(name) or None
        return None if value is None else self.url_value(name, value, schemes)

    def keys(self, name: str, parse: Callable[[str], object]) -> str | None:
        value = self.env.get(name) or None
        if value is not None:
            self._checked(lambda: parse(value), None)
        return value

    def urls(self, name: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
        found = []
        for part in (self.env.get(name) or "").split(","):
            if part.strip():
                found.append(self.url_value(name, part.strip(), schemes))
        return tuple(found)

    def url_value(self, name: str, value: str, schemes: tuple[str, ...]) -> str:
        if urlsplit(value).scheme not in schemes:
            self.problems.append(
                f"{name} must be a URL of scheme {', '.join(schemes)}, got one of scheme "
                f"{urlsplit(value).scheme or '(none)'!r}"
            )
        return value

    def origins(self, name: str) -> tuple[str, ...]:
        found = []
        for part in (self.env.get(name) or "").split(","):
            origin = part.strip().rstrip("/")
            if not origin:
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                self.problems.append(
                    f"{name}: {part.strip()!r} is not an origin (scheme://host[:port])"
                )
                continue
            found.append(origin)
        return tuple(found)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service reads from its environment."""

    home: Path
    environment: Environment
    database_url: str | None
    redis_url: str | None
    log_level: str
    db_pool_size: int
    db_statement_timeout_ms: int
    demo_customers: int
    jwt_secret: str | None
    jwt_issuer: str
    jwt_audience: str
    jwks_url: str | None
    jwt_algorithms: tuple[str, ...]
    counter_session_idle_seconds: int
    counter_session_absolute_seconds: int
    request_timeout_seconds: int
    max_body_bytes: int
    data_keys: str | None
    lookup_key: str | None
    rate_capacity: int
    idempotency_ttl_seconds: int
    rate_refill_per_second: int
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: int = 30
    webhook_timeout_seconds: int = 10
    worker_claim_idle_seconds: int = 60
    run_worker: bool = False
    response_cache_ttl_seconds: int = 30
    high_value_share: Decimal = Decimal("0.20")
    high_value_min_rm_grade: int = 3
    shutdown_timeout_seconds: int = 10
    jwt_max_lifetime_seconds: int = 24 * 3600
    max_subscriptions_per_principal: int = 20
    counter_max_failures: int = 5
    webhook_allowed_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    counter_lockout_seconds: int = 900
    # Identity resolution's second threshold, per source system (docs/identity.md).
    auto_merge: AutoMerge = field(default_factory=AutoMerge)
    redis_timeout_ms: int = 250
    worker_redis_timeout_ms: int = 5000
    redis_breaker_failures: int = 5
    redis_breaker_open_seconds: int = 5
    db_connect_timeout_seconds: int = 5
    worker_max_deliveries: int = 5
    log_format: str = "text"
    cors_origins: tuple[str, ...] = ()
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # Streaming replicas that serve read-only operations (api/db/replicas.py), and how far
    # behind the primary one may fall before reads skip it.
    database_replica_urls: tuple[str, ...] = ()
    replica_max_lag_seconds: int = 5
    # REDIS_URL names a node of a Redis Cluster (api/redis/guarded.py).
    redis_cluster: bool = False
    # "pgbouncer": DATABASE_URL is PgBouncer in transaction mode (api/db/engine.py).
    db_pooler: str = "none"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        read = _Reader(env)
        environment = read.choice("QUANJING_ENV", "development", ("development", "production"))
        if environment == "production" and not env.get("QUANJING_JWKS_URL"):
            read.problems.append(
                "QUANJING_JWKS_URL is required in production: tokens are verified against "
                "the identity provider's public keys (RS256/ES256)"
            )
        if environment == "production" and not (
            env.get("QUANJING_DATA_KEYS") and env.get("QUANJING_LOOKUP_KEY")
        ):
            read.problems.append(
                "QUANJING_DATA_KEYS and QUANJING_LOOKUP_KEY are required in production: "
                "identity document numbers are encrypted at rest"
            )
        algorithms = tuple(
            a.strip()
            for a in env.get("QUANJING_JWT_ALGORITHMS", "RS256,ES256").split(",")
            if a.strip()
        )
        if environment == "production" and (weak := sorted(set(algorithms) - ASYMMETRIC)):
            read.problems.append(
                f"QUANJING_JWT_ALGORITHMS may name only asymmetric algorithms in production "
                f"({', '.join(sorted(ASYMMETRIC))}), not {', '.join(weak)}: with a shared "
                "secret, whoever can verify a token can also forge one"
            )
        log_level = read.choice(
            "QUANJING_LOG_LEVEL", "INFO", ("debug", "info", "warning", "error", "critical")
        ).upper()
        cors_origins = read.origins("QUANJING_CORS_ORIGINS")
        settings = cls(
            home=Path(env.get("QUANJING_HOME") or ".quanjing").expanduser().resolve(),
            environment=environment,  # type: ignore[arg-type]  # checked just above
            database_url=read.url("DATABASE_URL", POSTGRES_SCHEMES),
            redis_url=read.url("REDIS_URL", ("redis", "rediss", "unix")),
            log_level=log_level,
            # DataLoader batches of one request run concurrently, each on its own connection
            # (up to ~10 for a full profile): a pool smaller than that churns connections.
            db_pool_size=read.int("QUANJING_DB_POOL_SIZE", 30, minimum=1),
            db_statement_timeout_ms=read.int("QUANJING_DB_STATEMENT_TIMEOUT_MS", 5000, minimum=1),
            demo_customers=read.int("QUANJING_DEMO_CUSTOMERS", 2000, minimum=1),
            jwt_secret=env.get("QUANJING_JWT_SECRET") or None,
            jwt_issuer=env.get("QUANJING_JWT_ISSUER", "quanjing-dev"),
            jwt_audience=env.get("QUANJING_JWT_AUDIENCE", "quanjing"),
            jwks_url=env.get("QUANJING_JWKS_URL") or None,
            jwt_algorithms=algorithms,
            counter_session_idle_seconds=read.int(
                "QUANJING_COUNTER_SESSION_IDLE_SECONDS", 600, minimum=1
            ),
            counter_session_absolute_seconds=read.int(
                "QUANJING_COUNTER_SESSION_ABSOLUTE_SECONDS", 1800, minimum=1
            ),
            request_timeout_seconds=read.int("QUANJING_REQUEST_TIMEOUT_SECONDS", 15, minimum=1),
            max_body_bytes=read.int("QUANJING_MAX_BODY_BYTES", 1024 * 1024, minimum=1024),
            # Cost units (one per field, lists times `first`): the README's call-center profile
            # costs 248, so a desk may open 2 profiles a second sustained, 20 in a burst.
            data_keys=read.keys("QUANJING_DATA_KEYS", parse_data_keys),
            lookup_key=read.keys("QUANJING_LOOKUP_KEY", parse_lookup_keys),
            idempotency_ttl_seconds=read.int(
                "QUANJING_IDEMPOTENCY_TTL_SECONDS", 7 * 24 * 3600, minimum=60
            ),
            rate_capacity=read.int("QUANJING_RATE_CAPACITY", 5000, minimum=1),
            rate_refill_per_second=read.int("QUANJING_RATE_REFILL_PER_SECOND", 500, minimum=1),
            # Deliveries: 30 s, 1 min, 2 min… between attempts; dead-lettered after the 8th.
            webhook_max_attempts=read.int("QUANJING_WEBHOOK_MAX_ATTEMPTS", 8, minimum=1),
            webhook_backoff_seconds=read.int("QUANJING_WEBHOOK_BACKOFF_SECONDS", 30, minimum=1),
            webhook_timeout_seconds=read.int("QUANJING_WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1),
            # A worker that died leaves its events pending; others take them after this long.
            worker_claim_idle_seconds=read.int("QUANJING_WORKER_CLAIM_IDLE_SECONDS", 60, minimum=1),
            # The demo runs the worker inside the web process; production runs `quanjing worker`.
            run_worker=env.get("QUANJING_RUN_WORKER", "") in ("1", "true", "yes"),
            # 0 turns the response cache of registered profile operations off.
            response_cache_ttl_seconds=read.int("QUANJING_RESPONSE_CACHE_TTL_SECONDS", 30),
            # Off unless set: pairs from these systems merged without a steward above these.
            auto_merge=read.auto_merge(),
            # The top share of customers by contribution that is high value (when scoring).
            high_value_share=read.share("QUANJING_HIGH_VALUE_SHARE", "0.20"),
            # High-value customers are served by an RM of at least this grade (1–4).
            high_value_min_rm_grade=read.int("QUANJING_HIGH_VALUE_MIN_RM_GRADE", 3, minimum=1),
            # On SIGTERM/SIGINT: how long open requests, websockets and the in-process worker
            # get to finish before they are cut off (a second signal cuts them off at once).
            shutdown_timeout_seconds=read.int("QUANJING_SHUTDOWN_TIMEOUT_SECONDS", 10, minimum=1),
            # A token whose expiry lies further ahead than this is refused: a stolen token with
            # a ten-year `exp` would otherwise be a key for ten years.
            jwt_max_lifetime_seconds=read.int(
                "QUANJING_JWT_MAX_LIFETIME_SECONDS", 24 * 3600, minimum=60
            ),
            # Live subscriptions one caller may hold in this process, over all their
            # connections: a desktop follows a few customers, never a whole branch.
            max_subscriptions_per_principal=read.int(
                "QUANJING_MAX_SUBSCRIPTIONS_PER_PRINCIPAL", 20, minimum=1
            ),
            # Documents a teller may show for one customer that do not match before that pair
            # is locked out, and for how long.
            counter_max_failures=read.int("QUANJING_COUNTER_MAX_FAILURES", 5, minimum=1),
            # Networks webhook receivers may be on although not public (an internal receiver):
            # CIDRs, comma-separated. Everything else private, loopback or link-local is refused.
            webhook_allowed_networks=read.networks("QUANJING_WEBHOOK_ALLOWED_NETWORKS"),
            counter_lockout_seconds=read.int("QUANJING_COUNTER_LOCKOUT_SECONDS", 900, minimum=1),
            # Redis on the request path (rate limits, the response cache, counter sessions):
            # how long one call may wait before its fallback is taken, and the breaker that
            # stops calling a Redis that keeps failing (api/redis/guarded.py).
            redis_timeout_ms=read.int("QUANJING_REDIS_TIMEOUT_MS", 250, minimum=10),
            redis_breaker_failures=read.int("QUANJING_REDIS_BREAKER_FAILURES", 5, minimum=1),
            redis_breaker_open_seconds=read.int(
                "QUANJING_REDIS_BREAKER_OPEN_SECONDS", 5, minimum=1
            ),
            # Redis for background work (stream reads block for a second, so more than that).
            worker_redis_timeout_ms=read.int(
                "QUANJING_WORKER_REDIS_TIMEOUT_MS", 5000, minimum=2000
            ),
            # How long opening a database connection may take before the request gets 503.
            db_connect_timeout_seconds=read.int(
                "QUANJING_DB_CONNECT_TIMEOUT_SECONDS", 5, minimum=1
            ),
            # A worker event that failed on this many deliveries goes to the dead letters.
            worker_max_deliveries=read.int("QUANJING_WORKER_MAX_DELIVERIES", 5, minimum=1),
            # text (the default) or json: every line, uvicorn's included (docs/operations.md).
            log_format=read.choice("QUANJING_LOG_FORMAT", "text", ("text", "json")),
            # Browser origins that may call /graphql (CORS); none unless set.
            cors_origins=cors_origins,
            # /metrics on its own port (0: off) and address; never the public listener.
            metrics_port=read.int("QUANJING_METRICS_PORT", 0),
            metrics_host=env.get("QUANJING_METRICS_HOST") or "127.0.0.1",
            # Comma-separated replica URLs: read-only operations go there (docs/scaling.md).
            database_replica_urls=read.urls("DATABASE_REPLICA_URLS", POSTGRES_SCHEMES),
            replica_max_lag_seconds=read.int("QUANJING_REPLICA_MAX_LAG_SECONDS", 5, minimum=1),
            db_pooler=read.choice("QUANJING_DB_POOLER", "none", ("none", "pgbouncer")),
            redis_cluster=env.get("QUANJING_REDIS_CLUSTER", "") in ("1", "true", "yes"),
        )
        if settings.redis_cluster and settings.redis_url is None:
            read.problems.append(
                "QUANJING_REDIS_CLUSTER needs REDIS_URL: one node of the cluster to start from"
            )
        if settings.database_replica_urls and settings.database_url is None:
            read.problems.append(
                "DATABASE_REPLICA_URLS needs DATABASE_URL: replicas follow an external primary"
            )
        if read.problems:
            count = len(read.problems)
            raise SettingsError(
                f"{count} setting{'s are' if count > 1 else ' is'} wrong:\n"
                + "\n".join(f"  - {problem}" for problem in read.problems)
            )
        return settings
