"""Assignment to arms and holdout: stable, independent between campaigns, in proportion."""

from __future__ import annotations

from collections import Counter

from domain.campaigns.assignment import ArmShare, assign, draw

ARMS = (ArmShare("A", 0.5), ArmShare("B", 0.3), ArmShare("C", 0.2))


def test_a_customer_always_lands_in_the_same_place_of_the_same_campaign() -> None:
    assert [assign(7, c, 0.1, ARMS) for c in range(1000)] == [
        assign(7, c, 0.1, ARMS) for c in range(1000)
    ]
    assert 0 <= min(draw(7, c) for c in range(1000)) < max(draw(7, c) for c in range(1000)) < 1


def test_the_groups_come_out_in_their_documented_proportions() -> None:
    n = 200_000
    counts = Counter(assign(3, c, 0.1, ARMS) for c in range(n))
    expected = {None: 0.1, "A": 0.45, "B": 0.27, "C": 0.18}
    for group, share in expected.items():
        # Binomial standard error at n = 200,000 is under 0.0012: 4 of them.
        assert abs(counts[group] / n - share) < 0.005, (group, counts[group] / n)


def test_two_campaigns_draw_independently() -> None:
    n = 100_000
    held_in_both = sum(
        1 for c in range(n) if assign(1, c, 0.2, ARMS) is None and assign(2, c, 0.2, ARMS) is None
    )
    assert abs(held_in_both / n - 0.04) < 0.004  # 0.2 × 0.2, not 0.2
