"""A cached answer is shared only by callers in the same relation to every customer: the
cache's scope (`relation_inputs`) must separate every pair of callers `relation_of` tells
apart. Enumerated over every role, claim and counter-session state, against customers with
and without an RM."""

from __future__ import annotations

import itertools

from domain.access.policy import Relation, relation_inputs, relation_of, session_decides
from domain.access.principal import Principal, Role

CUSTOMERS = [(1, None), (1, 7), (2, 7), (3, 8)]  # (customer id, their RM's id)


def _callers() -> list[tuple[Principal, bool]]:
    callers = []
    for role, cid, rm, session in itertools.product(
        Role, (None, 1, 2), (None, 7, 8), (False, True)
    ):
        if role is Role.CUSTOMER and cid is None:
            continue  # a customer token always names the customer
        principal = Principal(subject=f"{role}-{cid}-{rm}", role=role, customer_id=cid, rm_id=rm)
        callers.append((principal, session))
    return callers


def _relations(principal: Principal, session: bool) -> tuple[Relation, ...]:
    return tuple(
        relation_of(principal, customer, rm, session and session_decides(principal))
        for customer, rm in CUSTOMERS
    )


def test_callers_with_one_scope_stand_in_one_relation_to_every_customer() -> None:
    by_scope: dict[tuple[str, ...], set[tuple[Relation, ...]]] = {}
    for principal, session in _callers():
        scope = relation_inputs(principal, session and session_decides(principal))
        by_scope.setdefault(scope, set()).add(_relations(principal, session))
    mixed = {scope: relations for scope, relations in by_scope.items() if len(relations) > 1}
    assert mixed == {}, "relation_inputs no longer covers what relation_of reads"


def test_the_enumeration_reaches_every_relation() -> None:
    # A new Relation that no caller here can reach would pass the test above unseen.
    reached = {r for principal, session in _callers() for r in _relations(principal, session)}
    assert reached == set(Relation)
