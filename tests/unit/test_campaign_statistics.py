"""The campaign statistics against values computed independently here (the standard library's
normal distribution and the textbook formulas) and published ones."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from domain.campaigns.statistics import response_rate, sample_size, uplift
from domain.errors import InvalidInput

Z = NormalDist().inv_cdf(0.975)


def _wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(5, 10), (0, 20), (20, 20), (37, 1000), (1234, 5000)])
def test_the_wilson_interval(k: int, n: int) -> None:
    rate = response_rate(k, n)
    low, high = _wilson(k, n)
    assert rate.rate == k / n
    assert rate.low == pytest.approx(low, abs=1e-9)
    assert rate.high == pytest.approx(high, abs=1e-9)


def test_a_published_wilson_value() -> None:
    # Newcombe (1998), table I: 81/263 → 0.2553 to 0.3662 (Wilson score interval).
    rate = response_rate(81, 263)
    assert (round(rate.low or 0, 4), round(rate.high or 0, 4)) == (0.2553, 0.3662)


def test_nobody_contacted_has_no_rate() -> None:
    assert response_rate(0, 0).rate is None


def test_uplift_is_the_difference_with_a_pooled_z_test_and_newcombe_s_interval() -> None:
    found = uplift(120, 1000, 80, 1000)
    assert found is not None
    assert found.difference == pytest.approx(0.04)
    pooled = 200 / 2000
    z = 0.04 / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 1000))
    assert found.z == pytest.approx(z, rel=1e-9)
    assert found.p_value == pytest.approx(2 * (1 - NormalDist().cdf(z)), rel=1e-6)
    # Newcombe's hybrid score interval from the two Wilson intervals (method 10).
    l1, u1 = _wilson(120, 1000)
    l2, u2 = _wilson(80, 1000)
    p1, p2 = 0.12, 0.08
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    assert found.low == pytest.approx(low)
    assert found.high == pytest.approx(high)
    assert uplift(0, 100, 0, 100) is not None
    assert uplift(5, 0, 1, 10) is None


def test_the_sample_size_per_group() -> None:
    # Cohen's h for 10 % → 12 %: each group's 2·asin(√p̂) has variance 1/n, their difference
    # 2/n, so n = 2 · ((z_0.975 + z_0.8) / h)^2 per group.
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    expected = math.ceil(2 * ((Z + NormalDist().inv_cdf(0.8)) / h) ** 2)
    assert sample_size(0.10, 0.02, 0.8, 0.05) == expected
    assert 3800 < expected < 3900  # the textbook figure for 10 % vs 12 %: about 3,840
    assert sample_size(0.10, -0.02, 0.8, 0.05) > 0  # a fall is as detectable


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0.0, 0.02, 0.8, 0.05), "baselineRate"),
        ((0.5, 0.6, 0.8, 0.05), "minimumDetectableEffect"),
        ((0.5, 0.0, 0.8, 0.05), "minimumDetectableEffect"),
        ((0.1, 0.02, 1.0, 0.05), "power"),
        ((0.1, 0.02, 0.8, 0.0), "alpha"),
    ],
)
def test_a_plan_that_cannot_be_sized_is_invalid_input(
    args: tuple[float, float, float, float], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        sample_size(*args)
    assert refused.value.field == field
