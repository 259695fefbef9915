"""What the fast lane charges: the same cost the executor's rate-limit extension computes,
remembered per query and the `first:` values it reads."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import parse

from schema.core.persisted import registry
from schema.core.query_cost import document_cost, operation_cost

PAGED = """query ($id: ID!, $n: Int, $m: Int) { customer(id: $id) { displayName
  interactions(first: $n) { edges { node { id kind } } }
  holdings { items { id } }
  ... Tasks } }
fragment Tasks on Customer { openTasks { id } relationshipManager { name } }
query Other { customers(first: $m) { edges { node { id } } } }"""


def _walked(query: str, variables: Mapping[str, object]) -> int:
    return document_cost(parse(query), variables)


def test_a_remembered_cost_follows_the_first_values_it_depends_on() -> None:
    cases: list[dict[str, object]] = [
        {"id": "a", "n": 5, "m": 3},
        {"id": "b", "n": 5, "m": 3},  # another customer: the same cost
        {"id": "a", "n": 50, "m": 3},
        {"id": "a", "n": 5, "m": 30},
        {"id": "a"},  # unset, no default: the largest page
        {"id": "a", "n": "many", "m": None},  # not a number: the largest page
        {"id": "a", "n": True},  # JSON true is no page size either
        {"id": "a", "n": 0},
    ]
    for variables in cases:
        assert operation_cost(PAGED, variables) == _walked(PAGED, variables), variables
    assert operation_cost(PAGED, {"n": 50}) > operation_cost(PAGED, {"n": 5})


def test_every_registered_operation_costs_what_the_executor_charges() -> None:
    for operation in registry().values():
        cases: list[dict[str, object]] = [{}, {"first": 7, "id": "x"}, {"first": 70}]
        for variables in cases:
            assert operation_cost(operation.query, variables) == _walked(
                operation.query, variables
            ), operation.name


DEFAULTED = """query Q($n: Int = 100) { customers(first: $n) { edges { node {
  interactions(first: $n) { edges { node { id } } } } } } }"""
LITERAL = """{ customers(first: 100) { edges { node {
  interactions(first: 100) { edges { node { id } } } } } } }"""


def test_a_variable_left_out_costs_its_default_as_the_executor_uses_it() -> None:
    # Sent without variables, this once cost 8 units and returned 100 customers and their
    # interactions: the cost counted a page of one where the executor read the default.
    assert _walked(DEFAULTED, {}) == _walked(LITERAL, {}) > 30_000
    assert operation_cost(DEFAULTED, {}) == _walked(LITERAL, {})
    assert _walked(DEFAULTED, {"n": 2}) == operation_cost(DEFAULTED, {"n": 2}) < 30


def test_a_first_that_cannot_be_told_before_execution_costs_the_largest_page() -> None:
    undefaulted = DEFAULTED.replace("Int = 100", "Int")
    for variables in ({}, {"n": None}, {"n": "100"}):
        assert _walked(undefaulted, variables) == _walked(LITERAL, {}), variables
