"""Bearer tokens (JWT) → Principal.

Development: HS256 with a shared secret (`QUANJING_JWT_SECRET`, or one generated once under
`$QUANJING_HOME`) so `quanjing token` can mint tokens the local server accepts. Production:
RS256/ES256 only, verified against the identity provider's JWKS, fetched with httpx, cached,
and refetched (at most once a minute) when a token names a key id we do not know.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from api.secret_files import development_secret_file
from api.settings import Settings
from domain.access.principal import Principal, Role

log = logging.getLogger(__name__)


class AuthError(Exception):
    """A token that cannot be accepted; `code` goes into the answer's body. `status` 401: the
    client's token is at fault (sign in again); 503: ours — the token may be fine but cannot be
    checked now (retry after `retry_after` seconds, keep the token)."""

    def __init__(
        self, code: str, message: str, *, status: int = 401, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


def development_secret(settings: Settings) -> str:
    """The HS256 secret of a development install: configured, or created once and kept."""
    if settings.jwt_secret:
        return settings.jwt_secret
    return development_secret_file(settings.home, "jwt-secret", lambda: secrets.token_urlsafe(48))


# The caller's identity is written into every record they leave (read audit, recorded_by,
# actor columns, idempotency scopes), whose columns hold 100 characters: a longer identity is
# refused at sign-in, not failed at its first audited read or write.
MAX_IDENTITY_LENGTH = 100


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise AuthError("TOKEN_INVALID", "the token has no known role") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("TOKEN_INVALID", "the token has no subject")
    client_id = claims.get("client_id") if isinstance(claims.get("client_id"), str) else None
    for name, value in (("sub", subject), ("client_id", client_id)):
        if value is not None and len(value) > MAX_IDENTITY_LENGTH:
            raise AuthError(
                "TOKEN_INVALID",
                f"the token's {name} is longer than {MAX_IDENTITY_LENGTH} characters",
            )

    def optional_int(name: str) -> int | None:
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise AuthError("TOKEN_INVALID", f"the token's {name} claim is not an id")
        return int(value)

    principal = Principal(
        subject=subject,
        role=role,
        branch=claims.get("branch") if isinstance(claims.get("branch"), str) else None,
        customer_id=optional_int("cid"),
        rm_id=optional_int("rm"),
        client_id=client_id,
        expires_at=float(claims["exp"]) if isinstance(claims.get("exp"), int | float) else None,
    )
    if role is Role.CUSTOMER and principal.customer_id is None:
        raise AuthError("TOKEN_INVALID", "a customer token must carry the customer id (cid)")
    return principal


@dataclass
class _KeySet:
    keys: dict[str, Any]
    fetched_at: float


class JwksCache:
    """The identity provider's signing keys, by key id.

    One fetch at a time, shared by every request that needs it; a request whose key is already
    known never waits for one: an hourly refresh runs in the background, and while the
    provider fails, the keys already known keep being used.
    """

    REFRESH_AFTER = 3600.0
    MIN_REFETCH_INTERVAL = 60.0
    # After a failed fetch, none is tried for this long: with no keys yet, requests are refused
    # at once (503) instead of each waiting on a fetch of its own (up to 5 s).
    RETRY_UNAVAILABLE_AFTER = 5.0

    def __init__(self, url: str, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.client = client
        self._set: _KeySet | None = None
        self._failed_at: float | None = None
        self._fetching: asyncio.Task[None] | None = None

    def _unavailable(self) -> AuthError:
        return AuthError(
            "TOKEN_UNVERIFIABLE",
            "the signing keys are unavailable; retry shortly with the same token",
            status=503,
            retry_after=int(self.RETRY_UNAVAILABLE_AFTER),
        )

    async def _fetch(self) -> _KeySet:
        if self.client is None:
            raise RuntimeError("the JWKS cache has no HTTP client (set by the lifespan)")
        response = await self.client.get(self.url, timeout=5.0)
        response.raise_for_status()
        jwk_set = jwt.PyJWKSet.from_dict(response.json())
        keys = {k.key_id: k.key for k in jwk_set.keys if k.key_id}
        return _KeySet(keys=keys, fetched_at=time.monotonic())

    async def _refresh(self) -> None:
        try:
            self._set = await self._fetch()
            self._failed_at = None
        except (httpx.HTTPError, jwt.PyJWKError, ValueError) as exc:
            log.warning("the identity provider's keys could not be fetched: %r", exc)
            self._failed_at = time.monotonic()

    def _fetch_once(self, now: float) -> asyncio.Task[None] | None:
        """The fetch in flight, or a new one; None while backing off after a failure."""
        if self._fetching is not None and not self._fetching.done():
            return self._fetching
        failed_at = self._failed_at
        if failed_at is not None and now - failed_at < self.RETRY_UNAVAILABLE_AFTER:
            return None
        self._fetching = asyncio.create_task(self._refresh())
        # A background refresh nobody awaits still has its failure marked as seen.
        self._fetching.add_done_callback(lambda task: task.cancelled() or task.exception())
        return self._fetching

    async def key(self, kid: str) -> Any:
        now = time.monotonic()
        current = self._set
        if current is not None and kid in current.keys:
            if now - current.fetched_at > self.REFRESH_AFTER:
                self._fetch_once(now)  # in the background: this request has its key
            return current.keys[kid]
        may_refetch = current is None or now - current.fetched_at > self.MIN_REFETCH_INTERVAL
        fetching = self._fetch_once(now) if may_refetch else None
        if fetching is not None:
            # Shielded: a request that gives up does not cancel the fetch others wait for.
            await asyncio.shield(fetching)
        if self._set is None:
            raise self._unavailable()
        found = self._set.keys.get(kid)
        if found is None:
            raise AuthError("TOKEN_INVALID", "the token is signed with an unknown key")
        return found


# A channel sends the same token with every request until it expires: verifying its signature
# each time costs more than the rest of a cached answer. A verified token is remembered until
# its expiry, and for at most REVERIFY_SECONDS, so a key withdrawn from the JWKS stops working
# within that time.
REVERIFY_SECONDS = 60.0
REMEMBERED_TOKENS = 10_000


class TokenVerifier:
    def __init__(self, settings: Settings, jwks: JwksCache | None) -> None:
        self.settings = settings
        self.jwks = jwks
        self._secret = None if jwks is not None else development_secret(settings)
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        now = time.time()
        if remembered is not None:
            if remembered[1] > now:
                return remembered[0]
            del self._verified[token]
        principal, expires = await self._verify(token)
        if len(self._verified) >= REMEMBERED_TOKENS:
            del self._verified[next(iter(self._verified))]  # the oldest first
        self._verified[token] = (principal, min(expires, now + REVERIFY_SECONDS))
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("TOKEN_INVALID", "the token is malformed") from exc
        if self.jwks is not None:
            # Asymmetric only: an HS256 token "signed" with the public key must not pass.
            algorithms = list(self.settings.jwt_algorithms)
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise AuthError("TOKEN_INVALID", "the token names no key id")
            key: Any = await self.jwks.key(kid)
        else:
            algorithms = ["HS256"]
            key = self._secret
        if header.get("alg") not in algorithms:
            raise AuthError("TOKEN_INVALID", "the token's algorithm is not accepted")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("TOKEN_EXPIRED", "the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("TOKEN_INVALID", "the token is not meant for this service") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("TOKEN_INVALID", "the token comes from an unknown issuer") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("TOKEN_INVALID", "the token's signature or claims are invalid") from exc
        expires = float(claims["exp"])
        if expires - time.time() > self.settings.jwt_max_lifetime_seconds:
            raise AuthError(
                "TOKEN_INVALID",
                f"the token lives too long: at most {self.settings.jwt_max_lifetime_seconds} s",
            )
        return principal_from_claims(claims), expires


def mint_development_token(
    settings: Settings,
    *,
    role: Role,
    subject: str,
    ttl_seconds: int = 8 * 3600,
    **claims: Any,
) -> str:
    """A token the development server accepts (`quanjing token`)."""
    now = int(time.time())
    payload = {
        "sub": subject,
        "role": role.value,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
        **{k: v for k, v in claims.items() if v is not None},
    }
    return jwt.encode(payload, development_secret(settings), algorithm="HS256")
