"""Every GraphQL example in the README and docs/ is valid against the schema: the guides are
what a new client team copies first, and a renamed field must not leave them broken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLError, parse, validate

from schema import schema

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)

EXAMPLES = [
    pytest.param(block, id=f"{path.name}:{text[: match.start()].count(chr(10)) + 1}")
    for path in DOCUMENTS
    for text in [path.read_text(encoding="utf-8")]
    for match in BLOCK.finditer(text)
    for block in [match.group(1)]
]


def test_the_guides_have_examples() -> None:
    assert len(EXAMPLES) > 20


@pytest.mark.parametrize("example", EXAMPLES)
def test_a_documented_example_is_valid_against_the_schema(example: str) -> None:
    try:
        errors = validate(schema._schema, parse(example))
    except GraphQLError as exc:
        errors = [exc]
    assert errors == [], "\n".join(e.message for e in errors)
