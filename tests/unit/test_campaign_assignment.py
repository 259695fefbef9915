"""Assignment to arms and holdout: stable, independent between campaigns, in proportion."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from domain.campaigns.assignment import SPAN, Placement, assign, cuts, place, slot

SHARES = (Decimal("0.5"), Decimal("0.3"), Decimal("0.2"))
TENTH = Decimal("0.1")


def test_a_customer_always_lands_in_the_same_place_of_the_same_campaign() -> None:
    assert [assign(7, c, TENTH, SHARES) for c in range(1000)] == [
        assign(7, c, TENTH, SHARES) for c in range(1000)
    ]
    places = [place(7, c) for c in range(1000)]
    assert 0 <= min(places) < max(places) < SPAN


def test_the_groups_come_out_in_their_documented_proportions() -> None:
    n = 200_000
    counts = Counter(assign(3, c, TENTH, SHARES) for c in range(n))
    expected = {
        Placement(0, True): 0.05,
        Placement(1, True): 0.03,
        Placement(2, True): 0.02,
        Placement(0, False): 0.45,
        Placement(1, False): 0.27,
        Placement(2, False): 0.18,
    }
    assert set(counts) == set(expected)
    for group, share in expected.items():
        # Binomial standard error at n = 200,000 is under 0.0012: 4 of them.
        assert abs(counts[group] / n - share) < 0.005, (group, counts[group] / n)


def test_two_campaigns_draw_independently() -> None:
    n = 100_000
    held_in_both = sum(
        1
        for c in range(n)
        if assign(1, c, Decimal("0.2"), SHARES).control
        and assign(2, c, Decimal("0.2"), SHARES).control
    )
    assert abs(held_in_both / n - 0.04) < 0.004  # 0.2 × 0.2, not 0.2


def test_the_cuts_are_exact_and_a_place_on_a_cut_starts_the_next_slot() -> None:
    inner = cuts(Decimal("0.5"), (Decimal("0.5"), Decimal("0.5")))
    assert inner == [SPAN // 4, SPAN // 2, 3 * SPAN // 4]
    assert slot(SPAN // 4 - 1, inner) == 0
    assert slot(SPAN // 4, inner) == 1
    assert slot(SPAN - 1, inner) == 3
    # A share of a third has no exact binary point: the cut is the first place at or above it.
    third = cuts(Decimal("0"), (Decimal("0.33333"), Decimal("0.66667")))[2]
    assert third == -(-33333 * SPAN // 100000)


def test_no_holdout_means_everyone_is_treated() -> None:
    assert not any(assign(5, c, Decimal("0"), SHARES).control for c in range(5000))
