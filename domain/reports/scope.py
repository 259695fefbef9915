"""Whose figures a management report covers, by the caller's role."""

from __future__ import annotations

from domain.access.principal import Principal, Role
from domain.errors import Forbidden


def branch_scope(principal: Principal, asked: int | None, own_branch_id: int | None) -> int | None:
    """The branch (with every unit below it) a report covers, or None for the whole bank: a
    branch manager their own branch (from the token's branch code), never wider; the
    bank-wide roles whatever they ask."""
    if principal.role is not Role.BRANCH_MANAGER:
        return asked
    if own_branch_id is None:
        raise Forbidden("the sign-in names no branch of this bank")
    if asked not in (None, own_branch_id):
        raise Forbidden("a branch manager's reports cover their own branch")
    return own_branch_id
