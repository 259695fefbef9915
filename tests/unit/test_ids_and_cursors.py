"""Global ids and cursors are opaque, round-trip, and refuse garbage with a typed error."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.errors import InvalidInput
from domain.ids import decode_id, decode_typed_id, encode_id
from domain.interactions import Channel, Interaction, InteractionKind
from schema.core.pagination import decode_id_cursor
from schema.customers.queries import customer_cursor
from schema.interactions.types import parse_timeline_cursor, timeline_cursor


def test_a_global_id_round_trips() -> None:
    assert decode_id(encode_id("Customer", 42)) == ("Customer", 42)
    assert decode_id(encode_id("Customer", 2**63 - 1)) == ("Customer", 2**63 - 1)
    assert decode_typed_id(encode_id("Branch", 7), "Branch") == 7


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "!!!",
        "Q3VzdG9tZXI6",
        "Q3VzdG9tZXI6LTE",
        "bm9wZQ",
        # Past the bigint keys: used to reach the driver and fail as an internal error.
        _raw(f"Customer:{2**63}"),
        _raw("Customer:99999999999999999999"),
        # Spellings int() would take for a number.
        _raw("Customer:1_0"),
        _raw("Customer: 7"),
        _raw("Customer:+7"),
        _raw("Customer:\u0663"),
    ],
)
def test_a_malformed_global_id_is_invalid_input(garbage: str) -> None:
    with pytest.raises(InvalidInput):
        decode_id(garbage)


def test_an_id_of_another_type_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a Customer id"):
        decode_typed_id(encode_id("Branch", 1), "Customer")


def test_a_timeline_cursor_round_trips() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    interaction = Interaction(
        id=9,
        customer_id=1,
        channel=Channel.COUNTER,
        kind=InteractionKind.INQUIRY,
        occurred_at=moment,
        branch_id=None,
        staff_code=None,
        cost=None,
        outcome=None,
        summary=None,
        satisfaction=None,
    )
    position = parse_timeline_cursor(timeline_cursor(interaction))
    assert (position.occurred_at, position.id) == (moment, 9)


@pytest.mark.parametrize("garbage", ["???", "eA", "MjAyNnwx"])
def test_a_malformed_timeline_cursor_is_invalid_input(garbage: str) -> None:
    with pytest.raises(InvalidInput):
        parse_timeline_cursor(garbage)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


PAST_BIGINT = "9" * 23


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (decode_id_cursor, "²"),
        (decode_id_cursor, PAST_BIGINT),
        (decode_id_cursor, "0"),
        (customer_cursor, "c|²"),
        (customer_cursor, f"c|{PAST_BIGINT}"),
        (parse_timeline_cursor, "2026-01-01T00:00:00+00:00|²"),
        (parse_timeline_cursor, f"2026-01-01T00:00:00+00:00|{PAST_BIGINT}"),
        (parse_timeline_cursor, "2026-01-01T00:00:00+00:00|1_0"),
    ],
)
def test_a_cursor_holding_no_usable_key_is_invalid_input(parse: Any, raw: str) -> None:
    # "²" passed str.isdigit() and failed in int(); a key past the bigints failed in the
    # driver: both were answered INTERNAL_SERVER_ERROR.
    with pytest.raises(InvalidInput) as refused:
        parse(_b64(raw))
    assert refused.value.field == "after"
