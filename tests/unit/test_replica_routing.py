"""Where a read goes (api/db/replicas.py): the decision table, and how a replica's lag is
dated from the primary's own positions."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.replicas import Replicas, _History


def _engine(name: str) -> AsyncEngine:
    return cast(AsyncEngine, name)  # choose() hands engines back, never touches them


def _replicas(*states: tuple[int, float]) -> Replicas:
    routed = Replicas(_engine("primary"), [_engine(f"r{n}") for n in range(len(states))], 5)
    for replica, (replayed, lag) in zip(routed.replicas, states, strict=True):
        replica.replayed, replica.lag_seconds = replayed, lag
    return routed


def test_outside_a_read_only_operation_the_primary_answers() -> None:
    assert _replicas((100, 0.0)).choose(None) == "primary"


def test_a_replica_answers_once_it_has_the_callers_last_write() -> None:
    routed = _replicas((100, 0.0))
    assert routed.choose(0) == "r0"  # no write of theirs to wait for
    assert routed.choose(100) == "r0"
    assert routed.choose(101) == "primary"  # behind the caller's write


def test_down_or_lagging_replicas_are_skipped_and_the_rest_take_turns() -> None:
    routed = _replicas((-1, float("inf")), (500, 9.0), (400, 0.5), (450, 1.0))
    chosen: list[Any] = [routed.choose(300) for _ in range(4)]
    assert sorted(set(chosen)) == ["r2", "r3"]  # r0 down, r1 past 5 s
    assert routed.choose(420) == "r3"
    assert _replicas((-1, float("inf"))).choose(0) == "primary"


def test_lag_is_the_time_since_the_primary_first_wrote_past_the_replay() -> None:
    history = _History(window_seconds=11)
    for second, lsn in enumerate((100, 100, 180, 250, 250)):
        history.add(float(second), lsn)
    assert history.lag(4.0, 250) == 0.0  # caught up
    assert history.lag(4.0, 200) == 1.0  # the primary passed 200 at second 3
    assert history.lag(4.0, 100) == 2.0  # …and 100 at second 2: an idle second is not lag
    assert history.lag(4.0, 50) == 4.0
    history.add(20.0, 250)  # older samples leave the window
    assert [moment for moment, _ in history.samples] == [20.0]
    assert _History(window_seconds=1).lag(0.0, 0) == float("inf")  # nothing known yet
