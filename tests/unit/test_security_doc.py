"""docs/security.md's policy tables are generated from the code and must be current."""

from __future__ import annotations

from pathlib import Path

from api.ops.security_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_policy_tables_in_the_security_doc_are_current() -> None:
    assert render() in DOC.read_text(encoding="utf-8"), "run `make schema` and commit"
