"""The relationship state ladder as GraphQL."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.relationships import RelationshipState
from domain.relationships import StateChange as StateChangeModel


@strawberry.type(description="One move on the relationship ladder.")
class StateChange:
    from_state: RelationshipState | None = strawberry.field(
        description="State before the move; null for the first classification."
    )
    to_state: RelationshipState = strawberry.field(description="State after the move.")
    reason_code: str = strawberry.field(description="Why the move was made, as a code.")
    note: str | None = strawberry.field(description="Free-text justification.")
    actor: str = strawberry.field(description="Who made the move.")
    occurred_at: datetime = strawberry.field(description="When the move took effect.")

    @classmethod
    def from_domain(cls, change: StateChangeModel) -> StateChange:
        return cls(
            from_state=change.from_state,
            to_state=change.to_state,
            reason_code=change.reason_code,
            note=change.note,
            actor=change.actor,
            occurred_at=change.occurred_at,
        )


@strawberry.type(description="The relationship's classification (正常/关注/可疑/退出).")
class Relationship:
    state: RelationshipState = strawberry.field(description="Current state.")
    since: datetime = strawberry.field(description="When the current state took effect.")
    history: list[StateChange] = strawberry.field(description="Every move, newest first.")
