"""Relay connection plumbing shared by every list that pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from domain.errors import InvalidInput
from domain.ids import parse_key

MAX_PAGE_SIZE = 100
T = TypeVar("T")


@strawberry.type(description="Where a page ends and whether more follow.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when another page follows.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as `after` for the next page."
    )
    start_cursor: str | None = strawberry.field(
        default=None, description="Cursor of the first edge (null on an empty page)."
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Lists page forward only (first/after): always false, as the Relay "
        "specification allows when it cannot be told cheaply; keep the cursors you came by.",
    )


@strawberry.type(description="One record of a page and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` for the records after it.")
    node: T = strawberry.field(description="The record.")


def edges(nodes: Sequence[T], key: Callable[[T], object]) -> list[Edge[T]]:
    """The page's records with their cursors; `key` gives what a record's cursor encodes
    (the same value the list's `after` accepts)."""
    return [Edge(cursor=encode_cursor(str(key(n))), node=n) for n in nodes]


def check_first(first: int) -> None:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput("first", f"first must be between 1 and {MAX_PAGE_SIZE}")


def encode_cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str = "after") -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(field, "not a valid cursor") from exc


def cursor_key(raw: str) -> int:
    """The primary key written in a decoded `after` cursor, or InvalidInput naming `after`."""
    return parse_key(raw, "after", "not a valid cursor")


def decode_id_cursor(after: str | None) -> int | None:
    """The id an `after` cursor of an id-ordered list carries (None without a cursor)."""
    if after is None:
        return None
    return cursor_key(decode_cursor(after))


def split_page(found: Sequence[T], first: int, key: Callable[[T], int]) -> tuple[list[T], PageInfo]:
    """A page of an id-ordered list fetched with `first + 1` rows: the rows to show, and
    PageInfo whose cursor is the last shown row's id."""
    page = list(found[:first])
    return page, PageInfo(
        has_next_page=len(found) > first,
        end_cursor=encode_cursor(str(key(page[-1]))) if page else None,
        start_cursor=encode_cursor(str(key(page[0]))) if page else None,
    )
