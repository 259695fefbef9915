"""Relationship state (客户关系状态): a ladder like loan classification, with its history."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class RelationshipState(enum.StrEnum):
    NORMAL = "normal"  # 正常
    WATCH = "watch"  # 关注: warning starts here
    DOUBTFUL = "doubtful"  # 可疑
    EXIT = "exit"  # 退出: the bank runs its exit plan


@dataclass(frozen=True, slots=True)
class Relationship:
    """The current state; `version` guards concurrent changes."""

    customer_id: int
    state: RelationshipState
    since: datetime
    version: int


@dataclass(frozen=True, slots=True)
class StateChange:
    """One move on the ladder: who moved it, when and why."""

    id: int
    customer_id: int
    from_state: RelationshipState | None
    to_state: RelationshipState
    reason_code: str
    note: str | None
    actor: str
    occurred_at: datetime
