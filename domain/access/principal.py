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
    BRANCH_MANAGER = "branch_manager"  # 支行行长: oversees one branch (the token's `branch`)
    ANALYST = "analyst"  # aggregates only
    INTEGRATION = "integration"  # core banking, card and loan systems
    COMPLIANCE = "compliance"  # compliance officer
    STEWARD = "steward"  # data steward: corrects and completes any customer's record
    ADMIN = "admin"


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
    # When the token expires (seconds since the epoch): a websocket authenticated by it is
    # closed then. None: a credential without an end (tests that build a Principal directly).
    expires_at: float | None = None

    @property
    def caller(self) -> str:
        """Who is calling, as one key: the rate bucket's, the subscriptions' and the
        read-your-writes fence's (a subject is unique within its role)."""
        return f"{self.role}:{self.subject}"
