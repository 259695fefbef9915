"""Which addresses a webhook may be sent to (SSRF), and how a URL is pinned to one."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from api.worker.receivers import SystemResolver
from api.worker.webhooks import pinned_url
from domain.errors import InvalidInput
from domain.webhooks import ReceiverRules, check_receiver, refusal


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),  # unique-local
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_only_public_addresses_may_receive(address: str, why: str | None) -> None:
    assert refusal(ip_address(address)) == why


def test_an_allowed_network_admits_an_internal_receiver() -> None:
    allowed = (ip_network("10.20.0.0/16"),)
    assert refusal(ip_address("10.20.1.2"), allowed) is None
    assert refusal(ip_address("10.21.1.2"), allowed) == "private"


async def test_numeric_spellings_resolve_to_what_a_connection_would_reach() -> None:
    resolver = SystemResolver()
    assert await resolver.addresses("2130706433", 80) == [ip_address("127.0.0.1")]
    assert await resolver.addresses("0x7f.1", 80) == [ip_address("127.0.0.1")]
    with pytest.raises(LookupError):
        await resolver.addresses("no-such-host.invalid", 80)


async def test_a_host_with_one_private_address_among_public_ones_is_refused() -> None:
    class Mixed:
        async def addresses(self, host: str, port: int) -> list[object]:
            return [ip_address("93.184.216.34"), ip_address("10.0.0.1")]

    rules = ReceiverRules(resolver=Mixed(), require_https=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="private"):
        await check_receiver("https://example.com/hook", rules)


def test_a_pinned_url_keeps_its_path_and_port() -> None:
    assert pinned_url("https://hooks.example.com:8443/a?b=1", ip_address("93.184.216.34")) == (
        "https://93.184.216.34:8443/a?b=1"
    )
    assert pinned_url("http://h.example/x", ip_address("2001:db8::1")) == "http://[2001:db8::1]/x"
