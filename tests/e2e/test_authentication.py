"""Who is calling: bearer tokens, checked before anything else runs."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.bootstrap import Resources
from api.http.app import create_app
from api.http.tokens import (
    AuthError,
    JwksCache,
    TokenVerifier,
    development_secret,
    mint_development_token,
)
from api.settings import Settings
from domain.access.principal import Role
from tests.conftest import Minter, as_production

QUERY = {"query": "{ customers(first: 1) { edges { node { id } } } }"}


def _code(response: httpx.Response) -> str:
    """The code of a refused request, in the same shape as every GraphQL error."""
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    code: str = error["extensions"]["code"]
    return code


async def _post(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return await client.post("/graphql", json=QUERY, headers=headers)


def unsigned(claims: dict[str, Any], kid: str | None = None) -> str:
    """An `alg: none` token, built by hand: what an attacker would send."""
    header = {"alg": "none", "typ": "JWT", **({"kid": kid} if kid else {})}

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}."


def _claims(settings: Settings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "agent-7",
        "role": "agent",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def test_without_a_token_only_the_health_probes_answer(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).status_code == 200
    assert (await anonymous.get("/readyz")).status_code == 200
    response = await _post(anonymous, None)
    assert response.status_code == 401
    assert _code(response) == "TOKEN_MISSING"
    assert "Bearer" in response.headers["www-authenticate"]


async def test_an_identity_of_the_longest_allowed_length_is_served_and_audited(
    anonymous: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    subject = "a" * 100
    token = jwt.encode(_claims(settings, sub=subject), development_secret(settings))
    response = await anonymous.post(
        "/graphql",
        json={"query": "{ customers(first: 1) { edges { node { displayName } } } }"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    async with engine.connect() as conn:
        audited = await conn.scalar(
            text("SELECT count(*) FROM audit_records WHERE subject = :s"), {"s": subject}
        )
    assert audited == 1


async def test_a_valid_token_is_served(anonymous: httpx.AsyncClient, mint: Minter) -> None:
    response = await _post(anonymous, mint(Role.AGENT, "agent-7"))
    assert response.status_code == 200
    assert "errors" not in response.json()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("expired", "TOKEN_EXPIRED"),
        ("wrong_audience", "TOKEN_INVALID"),
        ("wrong_issuer", "TOKEN_INVALID"),
        ("wrong_signature", "TOKEN_INVALID"),
        ("alg_none", "TOKEN_INVALID"),
        ("unknown_role", "TOKEN_INVALID"),
        ("customer_without_cid", "TOKEN_INVALID"),
        ("subject_too_long", "TOKEN_INVALID"),
        ("client_id_too_long", "TOKEN_INVALID"),
        ("garbage", "TOKEN_INVALID"),
    ],
)
async def test_a_bad_development_token_is_refused_with_a_code(
    anonymous: httpx.AsyncClient, settings: Settings, case: str, code: str
) -> None:
    secret = development_secret(settings)
    makers: dict[str, Callable[[], str]] = {
        "expired": lambda: jwt.encode(_claims(settings, exp=int(time.time()) - 3600), secret),
        "wrong_audience": lambda: jwt.encode(_claims(settings, aud="another-service"), secret),
        "wrong_issuer": lambda: jwt.encode(_claims(settings, iss="someone-else"), secret),
        "wrong_signature": lambda: jwt.encode(_claims(settings), "not-the-secret-" * 3),
        "alg_none": lambda: unsigned(_claims(settings)),
        "unknown_role": lambda: jwt.encode(_claims(settings, role="superuser"), secret),
        "customer_without_cid": lambda: jwt.encode(_claims(settings, role="customer"), secret),
        "subject_too_long": lambda: jwt.encode(_claims(settings, sub="a" * 101), secret),
        "client_id_too_long": lambda: jwt.encode(
            _claims(settings, role="integration", client_id="c" * 101), secret
        ),
        "garbage": lambda: "not.a.token",
    }
    token = makers[case]()
    response = await _post(anonymous, token)
    assert response.status_code == 401, case
    assert _code(response) == code


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[tuple[str, Any, Any]]:
    """A real HTTP server on 127.0.0.1 publishing an RSA and an EC signing key."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = []
    for kid, key, alg in (("rsa-1", rsa_key, "RS256"), ("ec-1", ec_key, "ES256")):
        jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
    _Jwks.body = json.dumps({"keys": keys}).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", rsa_key, ec_key
    server.shutdown()
    server.server_close()


async def test_production_tokens_are_verified_against_the_jwks(
    identity_provider: tuple[str, Any, Any],
    settings: Settings,
    engine: AsyncEngine,
    redis_client: Any,
    seeded: int,
) -> None:
    url, rsa_key, ec_key = identity_provider
    production = as_production(
        settings, jwks_url=url, jwt_issuer="https://idp.bank", jwt_audience="quanjing"
    )
    async with httpx.AsyncClient() as http:
        app = create_app(production, Resources(engine=engine, redis=redis_client, http=http))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://q.test") as client:
            claims = _claims(production)
            rs = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
            es = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "ec-1"})
            assert (await _post(client, rs)).status_code == 200
            assert (await _post(client, es)).status_code == 200
            hits = _Jwks.hits
            assert (await _post(client, rs)).status_code == 200
            assert _Jwks.hits == hits, "the key set is cached"

            unknown = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa-9"})
            refused = await _post(client, unknown)
            assert refused.status_code == 401
            assert _code(refused) == "TOKEN_INVALID"

            # An HS256 token signed with a guessable secret must not pass in production.
            hs = jwt.encode(claims, "s" * 40, algorithm="HS256", headers={"kid": "rsa-1"})
            assert (await _post(client, hs)).status_code == 401
            none = unsigned(claims, kid="rsa-1")
            assert (await _post(client, none)).status_code == 401
            expired = jwt.encode(
                {**claims, "exp": int(time.time()) - 3600},
                rsa_key,
                algorithm="RS256",
                headers={"kid": "rsa-1"},
            )
            assert _code(await _post(client, expired)) == "TOKEN_EXPIRED"
            other_aud = jwt.encode(
                {**claims, "aud": "payments"}, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
            )
            assert (await _post(client, other_aud)).status_code == 401


class _FlakyJwks(BaseHTTPRequestHandler):
    """An identity provider that fails (HTTP 500) until it is told to serve its keys."""

    body = b"{}"
    status = 500
    hits = 0
    gate: threading.Event | None = None  # while set and not released, answers hang

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.gate is not None:
            self.gate.wait(10)
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.body if self.status == 200 else b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_identity_provider(identity_provider: tuple[str, Any, Any]) -> Iterator[str]:
    """The JWKS of `identity_provider` behind a server that fails until told otherwise."""
    _FlakyJwks.body, _FlakyJwks.status, _FlakyJwks.hits, _FlakyJwks.gate = _Jwks.body, 500, 0, None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyJwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()
    server.server_close()


async def test_an_unreachable_identity_provider_is_our_fault_not_the_tokens(
    identity_provider: tuple[str, Any, Any],
    flaky_identity_provider: str,
    settings: Settings,
    engine: AsyncEngine,
    redis_client: Any,
    seeded: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 503 with Retry-After (keep the token, try again), not 401 (sign in again); and while the
    # provider is down, requests share one fetch and are then refused at once.
    _, rsa_key, _ = identity_provider
    production = as_production(
        settings,
        jwks_url=flaky_identity_provider,
        jwt_issuer="https://idp.bank",
        jwt_audience="quanjing",
    )
    token = jwt.encode(_claims(production), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    async with httpx.AsyncClient() as http:
        app = create_app(production, Resources(engine=engine, redis=redis_client, http=http))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://q.test") as client:
            first = await asyncio.gather(*(_post(client, token) for _ in range(4)))
            later = [await _post(client, token) for _ in range(2)]
            for refused in [*first, *later]:
                assert refused.status_code == 503
                assert _code(refused) == "TOKEN_UNVERIFIABLE"
                assert int(refused.headers["retry-after"]) >= 1
                assert "www-authenticate" not in refused.headers
            assert _FlakyJwks.hits == 1, "one fetch for all, then refusals without waiting"

            monkeypatch.setattr(JwksCache, "RETRY_UNAVAILABLE_AFTER", 0.2)
            _FlakyJwks.status = 200
            await asyncio.sleep(0.3)
            assert (await _post(client, token)).status_code == 200  # the same token


async def test_known_keys_keep_working_while_the_identity_provider_is_down(
    identity_provider: tuple[str, Any, Any],
    flaky_identity_provider: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _FlakyJwks.status = 200
    async with httpx.AsyncClient() as http:
        cache = JwksCache(flaky_identity_provider, http)
        known = await cache.key("rsa-1")
        assert _FlakyJwks.hits == 1

        # The key set comes due for its refresh while the provider hangs: requests with a known
        # key are answered from the set they have, without waiting for the fetch.
        gate = _FlakyJwks.gate = threading.Event()
        monkeypatch.setattr(JwksCache, "REFRESH_AFTER", 0.0)
        monkeypatch.setattr(JwksCache, "MIN_REFETCH_INTERVAL", 0.0)
        try:
            served = await asyncio.wait_for(
                asyncio.gather(*(cache.key("rsa-1") for _ in range(5))), timeout=3
            )
            assert served == [known] * 5
        finally:
            _FlakyJwks.status = 500
            gate.set()
        # An unknown key id waits for the one fetch in flight, which fails: with keys known,
        # that is the token's problem (401), not ours (503).
        with pytest.raises(AuthError) as unknown:
            await cache.key("rsa-9")
        assert (unknown.value.code, unknown.value.status) == ("TOKEN_INVALID", 401)
        assert _FlakyJwks.hits == 2, "one refresh for the five requests"
        # Backing off after the failure: no fetch, the known key still served.
        assert await cache.key("rsa-1") is known
        with pytest.raises(AuthError):
            await cache.key("rsa-9")
        assert _FlakyJwks.hits == 2


async def test_a_remembered_token_is_not_trusted_past_its_expiry(settings: Settings) -> None:
    verifier = TokenVerifier(settings, None)
    # Expired 28 s ago: still inside the decoder's 30 s leeway for about two seconds.
    token = mint_development_token(settings, role=Role.AGENT, subject="late", ttl_seconds=-28)
    assert (await verifier.verify(token)).subject == "late"
    assert (await verifier.verify(token)).subject == "late"  # remembered
    await asyncio.sleep(2.5)
    with pytest.raises(AuthError) as refused:
        await verifier.verify(token)
    assert refused.value.code == "TOKEN_EXPIRED"


async def test_a_token_that_lives_longer_than_the_ceiling_is_refused(settings: Settings) -> None:
    verifier = TokenVerifier(settings, None)
    ten_years = 10 * 365 * 24 * 3600
    token = mint_development_token(
        settings, role=Role.AGENT, subject="forever", ttl_seconds=ten_years
    )
    with pytest.raises(AuthError) as refused:
        await verifier.verify(token)
    assert refused.value.code == "TOKEN_INVALID"
    assert "too long" in refused.value.message
    day = mint_development_token(
        settings, role=Role.AGENT, subject="a-day", ttl_seconds=settings.jwt_max_lifetime_seconds
    )
    assert (await verifier.verify(day)).subject == "a-day"
