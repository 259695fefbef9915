"""Where a NUL character hides in a request: variables at any depth, literal arguments."""

from __future__ import annotations

from graphql import parse

from schema.core.text_inputs import argument_with_nul, variable_with_nul


def test_a_nul_is_found_at_any_depth_of_a_variable_and_named_by_its_path() -> None:
    assert variable_with_nul("plain", "s") is None
    assert variable_with_nul({"a": [1, "x", {"b": "y\x00"}]}, "input") == "input.a[2].b"
    assert variable_with_nul(["ok", "no\x00"], "tags") == "tags[1]"
    assert variable_with_nul({"n": 1, "flag": True, "none": None}, "input") is None
    assert variable_with_nul({"payload": {"k\x00ey": 1}}, "input") == "input.payload.key"


def test_a_nul_in_a_literal_names_its_argument() -> None:
    query = '{ a(x: "fine", y: {z: ["\\u0000"]}) { b } }'
    assert argument_with_nul(query, parse(query)) == "y"
    clean = '{ a(x: "caf\\u00e9") { b } }'
    assert argument_with_nul(clean, parse(clean)) is None
