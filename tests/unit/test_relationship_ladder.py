"""The ladder: every move allowed and refused, versions, maker-checker — with a fake store."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType

import pytest

from domain.errors import NotFound
from domain.relationship_changes import (
    Move,
    change_state,
    decide_proposal,
    proposal_deadline,
    propose_change,
)
from domain.relationships import (
    ALLOWED_MOVES,
    ApprovalRequired,
    Conflict,
    InvalidStateTransition,
    MakerCheckerViolation,
    Proposal,
    ProposalStatus,
    ReasonCode,
    Relationship,
    RelationshipState,
)

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
S = RelationshipState


class FakeStore:
    """An in-memory unit of work: commit publishes, leaving without commit forgets."""

    def __init__(self, state: RelationshipState = S.NORMAL, version: int = 1) -> None:
        self.relationship = Relationship(1, state, NOW, version)
        self.proposals: dict[int, Proposal] = {}
        self.events: list[str] = []
        self._staged: FakeStore | None = None
        self._ids = itertools.count(1)

    def __call__(self) -> FakeStore:
        return self

    async def __aenter__(self) -> FakeStore:
        self._snapshot = (self.relationship, dict(self.proposals), list(self.events))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not getattr(self, "_committed", False):
            self.relationship, self.proposals, self.events = self._snapshot
        self._committed = False

    async def commit(self) -> None:
        self._committed = True

    async def relationship_for_update(self, customer_id: int) -> Relationship:
        if customer_id != 1:
            raise NotFound("customer", str(customer_id))
        return self.relationship

    async def apply(
        self,
        current: Relationship,
        to_state: RelationshipState,
        reason: ReasonCode,
        note: str | None,
        actor: str,
        at: datetime,
    ) -> Relationship:
        self.relationship = Relationship(1, to_state, at, current.version + 1)
        return self.relationship

    async def pending_proposal(self, customer_id: int) -> Proposal | None:
        return next(
            (p for p in self.proposals.values() if p.status is ProposalStatus.PENDING), None
        )

    async def add_proposal(
        self, move: Move, from_state: RelationshipState, actor: str, at: datetime
    ) -> Proposal:
        proposal = Proposal(
            next(self._ids),
            1,
            from_state,
            move.to_state,
            move.reason_code,
            move.note,
            actor,
            at,
            proposal_deadline(at),
            move.expected_version,
            ProposalStatus.PENDING,
            None,
            None,
        )
        self.proposals[proposal.id] = proposal
        return proposal

    async def proposal_for_update(self, proposal_id: int) -> Proposal | None:
        return self.proposals.get(proposal_id)

    async def decide(
        self, proposal_id: int, status: ProposalStatus, checker: str, note: str | None, at: datetime
    ) -> None:
        self.proposals[proposal_id] = replace(
            self.proposals[proposal_id], status=status, decided_by=checker, decided_at=at
        )

    async def emit(self, customer_id: int, topic: str, payload: dict[str, object]) -> None:
        self.events.append(topic)


def move(to: RelationshipState, version: int = 1) -> Move:
    return Move(1, to, ReasonCode.OTHER, "说明", version)


@pytest.mark.parametrize(("start", "to"), list(itertools.product(S, S)), ids=lambda s: s.value)
async def test_every_direct_move_is_allowed_or_refused_as_the_ladder_says(
    start: RelationshipState, to: RelationshipState
) -> None:
    store = FakeStore(start)
    allowed = (start, to) in ALLOWED_MOVES
    if allowed and S.EXIT not in (start, to):
        moved = await change_state(store, move(to), "rm-1", NOW)
        assert (moved.state, moved.version) == (to, 2)
        assert store.events == ["relationship.state_changed"]
        return
    expected = ApprovalRequired if allowed else InvalidStateTransition
    with pytest.raises(expected):
        await change_state(store, move(to), "rm-1", NOW)
    assert store.relationship.state is start  # nothing written
    assert store.events == []


async def test_a_stale_version_is_a_conflict_and_overwrites_nothing() -> None:
    store = FakeStore(S.NORMAL, version=3)
    with pytest.raises(Conflict):
        await change_state(store, move(S.WATCH, version=2), "rm-1", NOW)
    assert store.relationship.version == 3


async def test_exit_is_proposed_by_one_and_approved_by_another() -> None:
    store = FakeStore(S.DOUBTFUL)
    proposal = await propose_change(store, move(S.EXIT), "rm-1", NOW)
    assert proposal.deadline == proposal_deadline(NOW)
    assert store.relationship.state is S.DOUBTFUL  # nothing moves before approval
    with pytest.raises(MakerCheckerViolation):
        await decide_proposal(store, proposal.id, True, "rm-1", None, NOW)
    with pytest.raises(Conflict):  # one open proposal at a time
        await propose_change(store, move(S.WATCH), "rm-2", NOW)
    moved = await decide_proposal(store, proposal.id, True, "approver-9", "同意", NOW)
    assert moved is not None
    assert (moved.state, store.proposals[proposal.id].status) == (S.EXIT, ProposalStatus.APPROVED)
    with pytest.raises(Exception, match="already approved"):
        await decide_proposal(store, proposal.id, False, "approver-9", None, NOW)


async def test_a_rejected_proposal_moves_nothing_and_an_outdated_one_conflicts() -> None:
    store = FakeStore(S.DOUBTFUL)
    first = await propose_change(store, move(S.EXIT), "rm-1", NOW)
    assert await decide_proposal(store, first.id, False, "approver-9", "证据不足", NOW) is None
    assert store.relationship.state is S.DOUBTFUL
    second = await propose_change(store, move(S.EXIT), "rm-1", NOW)
    await change_state(store, move(S.WATCH), "rm-2", NOW)  # the state moved meanwhile
    with pytest.raises(Conflict):
        await decide_proposal(store, second.id, True, "approver-9", None, NOW)


def test_a_pending_proposal_past_its_deadline_is_overdue() -> None:
    proposal = Proposal(
        1,
        1,
        S.DOUBTFUL,
        S.EXIT,
        ReasonCode.EXIT_PLAN,
        None,
        "rm-1",
        NOW,
        proposal_deadline(NOW),
        1,
        ProposalStatus.PENDING,
        None,
        None,
    )
    assert not proposal.is_overdue(NOW)
    assert proposal.is_overdue(proposal_deadline(NOW).replace(minute=1))
