"""Webhooks against a real HTTP receiver on 127.0.0.1: signatures, retries, dead letters."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook

from api.bootstrap import Resources, receiver_rules
from api.db.document_crypto import DocumentCrypto
from api.db.webhooks import SqlWebhookStore
from api.http.app import create_app
from api.settings import Settings
from api.worker.webhooks import WebhookDispatcher
from domain.access.principal import Role
from domain.detection.handling import Event
from domain.ids import encode_id
from domain.webhooks import IPAddress, ReceiverRules, check_receiver
from tests.conftest import Minter, as_production
from tests.graphql import gql_data
from tests.websocket import free_port


@dataclass
class Receiver:
    """Answers 500 to the first `failures` requests on a path, then 204."""

    port: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    received: list[tuple[str, dict[str, str], bytes, int]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(autouse=True)
async def no_other_subscriptions(engine: AsyncEngine) -> None:
    """Each test counts the deliveries of its own subscriptions: those another test left
    active (this module's or any other's) would take a share of every event."""
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM webhook_attempts"))
        await conn.execute(text("DELETE FROM webhook_deliveries"))
        await conn.execute(text("DELETE FROM webhook_subscriptions"))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            left = state.failures.get(self.path, 0)
            status = 500 if left else 204
            state.failures[self.path] = max(left - 1, 0)
            state.received.append((self.path, dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


CREATE = """mutation ($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(input: $input) {
    __typename ... on CreatedWebhookSubscription { secret subscription { id url eventTypes } }
    ... on Error { code } ... on InvalidInputError { field } } }"""
SUBSCRIPTIONS = """{ webhookSubscriptions { id url active deliveries(first: 10) { nodes {
  id eventId eventType status attempts lastError deliveredAt
  attemptLog { statusCode error } } } } }"""
RETRY = """mutation ($id: ID!) { retryWebhookDelivery(id: $id) {
  __typename ... on WebhookDelivery { status attempts } ... on Error { code } } }"""
PAUSE = """mutation ($input: UpdateWebhookSubscriptionInput!) { updateWebhookSubscription(input: $input) {
  __typename ... on WebhookSubscription { active } ... on Error { code } } }"""


def _event(customer_id: int, topic: str = "alert.opened") -> Event:
    return Event(
        id=int(uuid.uuid4().int % 10**12),
        customer_id=customer_id,
        topic=topic,
        occurred_at=datetime.now(UTC),
        payload={"alertId": 41, "rule": "complaint", "severity": "medium", "taskId": 42},
    )


async def _subscribe(
    anonymous: httpx.AsyncClient, admin: str, url: str, types: list[str]
) -> tuple[str, str]:
    created = await gql_data(
        anonymous, CREATE, {"input": {"url": url, "eventTypes": types}}, token=admin
    )
    answer = created["createWebhookSubscription"]
    assert answer["__typename"] == "CreatedWebhookSubscription", answer
    assert answer["secret"].startswith("whsec_")
    return answer["subscription"]["id"], answer["secret"]


def _dispatcher(
    engine: AsyncEngine,
    crypto: DocumentCrypto,
    http: httpx.AsyncClient,
    attempts: int,
    rules: ReceiverRules,
) -> WebhookDispatcher:
    return WebhookDispatcher(
        SqlWebhookStore(engine, crypto),
        http,
        rules=rules,
        max_attempts=attempts,
        backoff=timedelta(0),  # due again at once: the test drives every attempt
        timeout_seconds=5,
    )


async def _subscription(anonymous: httpx.AsyncClient, admin: str, sid: str) -> dict[str, Any]:
    found = await gql_data(anonymous, SUBSCRIPTIONS, token=admin)
    mine: list[dict[str, Any]] = [s for s in found["webhookSubscriptions"] if s["id"] == sid]
    assert len(mine) == 1
    return mine[0]


async def test_a_delivery_is_signed_retried_until_accepted_and_every_attempt_is_logged(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    crypto: DocumentCrypto,
    mint: Minter,
    receiver: Receiver,
    settings: Settings,
) -> None:
    admin = mint(Role.ADMIN, "admin-1")
    path = f"/crm/{uuid.uuid4().hex}"
    sid, secret = await _subscribe(anonymous, admin, receiver.url(path), ["alert.opened"])
    receiver.failures[path] = 2  # fails twice, then succeeds

    store = SqlWebhookStore(engine, crypto)
    event = _event(customer_id=123)
    assert await store.fan_out([event]) == 1
    assert await store.fan_out([event]) == 0  # an event redelivered to the worker fans out once
    assert await store.fan_out([_event(123, topic="task.opened")]) == 0  # not subscribed

    async with httpx.AsyncClient() as http:
        dispatcher = _dispatcher(engine, crypto, http, 5, receiver_rules(settings))
        for _ in range(3):
            await dispatcher.deliver_due()
        assert await dispatcher.deliver_due() == 0  # delivered: nothing more is due

    mine = [r for r in receiver.received if r[0] == path]
    assert [status for *_, status in mine] == [500, 500, 204]
    # Every attempt carries the same id, and the signature verifies with the secret the
    # subscriber was given (the standardwebhooks reference implementation).
    assert {headers["webhook-id"] for _, headers, _, _ in mine} == {f"evt_{event.id}"}
    _, headers, body, _ = mine[-1]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "alert.opened"
    assert payload["data"] == {
        "customerId": encode_id("Customer", 123),
        "alertId": encode_id("Alert", 41),
        "rule": "complaint",
        "severity": "medium",
        "taskId": encode_id("Task", 42),
    }
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "QUJD" * 8).verify(body, headers)

    (delivery,) = (await _subscription(anonymous, admin, sid))["deliveries"]["nodes"]
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 3
    assert delivery["eventId"] == f"evt_{event.id}"
    assert [a["statusCode"] for a in delivery["attemptLog"]] == [500, 500, 204]
    assert [a["error"] for a in delivery["attemptLog"]] == ["HTTP 500", "HTTP 500", None]


async def test_a_delivery_that_keeps_failing_is_dead_lettered_and_can_be_retried_by_hand(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    crypto: DocumentCrypto,
    mint: Minter,
    receiver: Receiver,
    settings: Settings,
) -> None:
    admin = mint(Role.ADMIN, "admin-1")
    path = f"/down/{uuid.uuid4().hex}"
    sid, _ = await _subscribe(anonymous, admin, receiver.url(path), ["alert.opened"])
    receiver.failures[path] = 10
    await SqlWebhookStore(engine, crypto).fan_out([_event(124)])
    async with httpx.AsyncClient() as http:
        dispatcher = _dispatcher(engine, crypto, http, 2, receiver_rules(settings))
        for _ in range(4):
            await dispatcher.deliver_due()
    (dead,) = (await _subscription(anonymous, admin, sid))["deliveries"]["nodes"]
    assert (dead["status"], dead["attempts"], dead["lastError"]) == ("DEAD", 2, "HTTP 500")

    retried = await gql_data(anonymous, RETRY, {"id": dead["id"]}, token=admin)
    assert retried["retryWebhookDelivery"] == {
        "__typename": "WebhookDelivery",
        "status": "PENDING",
        "attempts": 0,
    }
    receiver.failures[path] = 0
    # A paused subscription keeps its deliveries waiting; resumed, they go.
    paused = await gql_data(anonymous, PAUSE, {"input": {"id": sid, "active": False}}, token=admin)
    assert paused["updateWebhookSubscription"] == {
        "__typename": "WebhookSubscription",
        "active": False,
    }
    async with httpx.AsyncClient() as http:
        dispatcher = _dispatcher(engine, crypto, http, 2, receiver_rules(settings))
        assert await dispatcher.deliver_due() == 0
        await gql_data(anonymous, PAUSE, {"input": {"id": sid, "active": True}}, token=admin)
        assert await dispatcher.deliver_due() >= 1
    (delivered,) = (await _subscription(anonymous, admin, sid))["deliveries"]["nodes"]
    assert delivered["status"] == "DELIVERED"
    assert len(delivered["attemptLog"]) == 3


async def test_subscriptions_are_admin_only_validated_and_their_secret_sealed(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, receiver: Receiver
) -> None:
    admin = mint(Role.ADMIN, "admin-1")
    for role in (Role.RELATIONSHIP_MANAGER, Role.INTEGRATION, Role.COMPLIANCE):
        refused = await gql_data(
            anonymous,
            CREATE,
            {"input": {"url": receiver.url("/x"), "eventTypes": ["alert.opened"]}},
            token=mint(role, "someone"),
        )
        assert refused["createWebhookSubscription"]["code"] == "FORBIDDEN"
    for bad, field_name in (
        ({"url": "ftp://127.0.0.1/x", "eventTypes": ["alert.opened"]}, "url"),
        ({"url": receiver.url("/x"), "eventTypes": ["customer.sold"]}, "eventTypes"),
        ({"url": receiver.url("/x"), "eventTypes": []}, "eventTypes"),
    ):
        answer = await gql_data(anonymous, CREATE, {"input": bad}, token=admin)
        assert answer["createWebhookSubscription"] == {
            "__typename": "InvalidInputError",
            "code": "INVALID_INPUT",
            "field": field_name,
        }
    _, secret = await _subscribe(anonymous, admin, receiver.url("/sealed"), ["task.opened"])
    async with engine.connect() as conn:
        stored = await conn.scalar(
            text("SELECT secret_ciphertext FROM webhook_subscriptions ORDER BY id DESC LIMIT 1")
        )
    assert secret.encode() not in bytes(stored)
    listed = await gql_data(anonymous, "{ webhookEventTypes }", token=admin)
    assert "alert.opened" in listed["webhookEventTypes"]


class _Answers:
    """A resolver (our own port) that answers what the test says, per host: what DNS
    rebinding looks like from here — one answer when the URL is checked, another later."""

    def __init__(self, **hosts: str) -> None:
        self.hosts = {name.replace("_", "."): address for name, address in hosts.items()}

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        if host not in self.hosts:
            raise LookupError(host)
        return [ip_address(self.hosts[host])]


REFUSED_RECEIVERS = [
    "http://127.0.0.1:8080/hook",
    "http://2130706433:8080/hook",  # 127.0.0.1 as one number
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://10.0.0.5/hook",
    "http://192.168.1.1/hook",
    "http://[fd00::1]/hook",  # unique-local
    "http://224.0.0.1/hook",  # multicast
    "http://0.0.0.0/hook",
    "http://no-such-host.invalid/hook",
]


async def test_receivers_inside_the_network_are_refused_at_creation(
    engine: AsyncEngine, redis_client: Any, settings: Settings, mint: Minter
) -> None:
    # No allowed networks, as a default install has none.
    for environment in (settings, as_production(settings)):
        closed = replace(environment, webhook_allowed_networks=())
        app = create_app(closed, Resources(engine=engine, redis=redis_client))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://q.test"
        ) as client:
            admin = mint(Role.ADMIN, "ssrf-admin")
            for url in REFUSED_RECEIVERS:
                if closed.is_production:
                    url = url.replace("http://", "https://")
                answer = await gql_data(
                    client,
                    CREATE,
                    {"input": {"url": url, "eventTypes": ["alert.opened"]}},
                    token=admin,
                )
                assert answer["createWebhookSubscription"] == {
                    "__typename": "InvalidInputError",
                    "code": "INVALID_INPUT",
                    "field": "url",
                }, url


async def test_each_delivery_checks_the_address_again_and_calls_the_one_it_checked(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    crypto: DocumentCrypto,
    mint: Minter,
    receiver: Receiver,
    settings: Settings,
) -> None:
    admin = mint(Role.ADMIN, "admin-rebind")
    # Created while the name pointed at an allowed receiver (the tests' 127.0.0.0/8)…
    path = f"/pinned/{uuid.uuid4().hex}"
    named = f"http://receiver.test:{receiver.port}{path}"
    rules = receiver_rules(settings)
    checked = ReceiverRules(_Answers(receiver_test="127.0.0.1"), False, rules.allowed_networks)
    await _subscribe_checked(engine, crypto, named, checked)
    await SqlWebhookStore(engine, crypto).fan_out([_event(125)])
    async with httpx.AsyncClient() as http:
        # …the delivery connects to the address it checked (the name resolves nowhere else:
        # a second lookup would fail), with the name in the Host header.
        dispatcher = _dispatcher(engine, crypto, http, 3, checked)
        assert await dispatcher.deliver_due() == 1
    (hit,) = [r for r in receiver.received if r[0] == path]
    assert {k.lower(): v for k, v in hit[1].items()}["host"] == f"receiver.test:{receiver.port}"

    # Later the name is rebound to a private address: the next delivery is not sent.
    path = f"/rebound/{uuid.uuid4().hex}"
    named = f"http://receiver.test:{receiver.port}{path}"
    sid = await _subscribe_checked(engine, crypto, named, checked)
    await SqlWebhookStore(engine, crypto).fan_out([_event(126)])
    rebound = ReceiverRules(_Answers(receiver_test="10.0.0.7"), False, rules.allowed_networks)
    async with httpx.AsyncClient() as http:
        dispatcher = _dispatcher(engine, crypto, http, 3, rebound)
        assert await dispatcher.deliver_due() == 2  # both subscriptions are refused now
    assert not [r for r in receiver.received if r[0] == path]
    (delivery,) = (await _subscription(anonymous, admin, sid))["deliveries"]["nodes"]
    assert delivery["attemptLog"] == [{"statusCode": None, "error": "receiver address refused"}]


async def test_the_attempt_log_says_what_kind_of_failure_never_the_connections_words(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    crypto: DocumentCrypto,
    mint: Minter,
    settings: Settings,
) -> None:
    admin = mint(Role.ADMIN, "admin-closed")
    closed_port = free_port()  # nothing listens there
    sid, _ = await _subscribe(
        anonymous, admin, f"http://127.0.0.1:{closed_port}/x", ["alert.opened"]
    )
    await SqlWebhookStore(engine, crypto).fan_out([_event(127)])
    async with httpx.AsyncClient() as http:
        await _dispatcher(engine, crypto, http, 3, receiver_rules(settings)).deliver_due()
    (delivery,) = (await _subscription(anonymous, admin, sid))["deliveries"]["nodes"]
    # Not "ConnectError: [Errno 111] Connection refused": which ports answer how is for the
    # server's log, not for a port scan through the attempt log.
    assert delivery["attemptLog"] == [{"statusCode": None, "error": "could not deliver"}]


async def _subscribe_checked(
    engine: AsyncEngine, crypto: DocumentCrypto, url: str, rules: ReceiverRules
) -> str:
    """A subscription created through the domain check with these rules (the GraphQL
    endpoint's resolver is the system's, which cannot answer for receiver.test)."""
    checked = await check_receiver(url, rules)
    created = await SqlWebhookStore(engine, crypto).create(
        checked, frozenset({"alert.opened"}), None, "whsec_" + "QUJD" * 8, "admin-rebind"
    )
    return encode_id("WebhookSubscription", created.id)


async def test_master_data_changes_are_announced_with_ids_and_field_names_only(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    crypto: DocumentCrypto,
    mint: Minter,
    receiver: Receiver,
    settings: Settings,
) -> None:
    admin = mint(Role.ADMIN, "admin-master-data")
    path = f"/mdm/{uuid.uuid4().hex}"
    _, secret = await _subscribe(anonymous, admin, receiver.url(path), ["customer.changed"])
    store = SqlWebhookStore(engine, crypto)
    changed = Event(
        id=int(uuid.uuid4().int % 10**12),
        customer_id=321,
        topic="customer.changed",
        occurred_at=datetime.now(UTC),
        payload={"customerId": 321, "fields": ["personal.occupation"]},
    )
    assert await store.fan_out([changed]) == 1
    async with httpx.AsyncClient() as http:
        dispatcher = _dispatcher(engine, crypto, http, 2, receiver_rules(settings))
        await dispatcher.deliver_due()
    (delivered,) = [r for r in receiver.received if r[0] == path]
    _, headers, body, _ = delivered
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "customer.changed"
    assert payload["data"] == {
        "customerId": encode_id("Customer", 321),
        "fields": ["personal.occupation"],
    }
