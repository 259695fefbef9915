"""The caller, as the token describes them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"  # call-center agent (呼叫中心)
    TELLER = "teller"  # counter staff (柜员)
    RELATIONSHIP_MANAGER = "rm"  # 客户经理
    APPROVER = "approver"  # checker in maker-checker flows
    ANALYST = "analyst"  # aggregates only
    INTEGRATION = "integration"  # core banking, card and loan systems
    COMPLIANCE = "compliance"  # compliance officer
    ADMIN = "admin"


STAFF_ROLES = frozenset(
    {Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER, Role.APPROVER, Role.COMPLIANCE, Role.ADMIN}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. `customer_id` is set for customers (from the token, never
    from an argument); `rm_id` for relationship managers; `client_id` for integrations."""

    subject: str
    role: Role
    branch: str | None = None
    customer_id: int | None = None
    rm_id: int | None = None
    client_id: str | None = None
