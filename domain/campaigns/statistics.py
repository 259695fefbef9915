"""The statistics of test-and-learn, from statsmodels rather than formulas of our own:
response rates with Wilson intervals, uplift against control with Newcombe's interval and a
two-proportion z-test, and the sample size an arm needs to show an effect.

statsmodels because it has all three, documented and tested by its own maintainers (scipy has
the Wilson interval but neither a two-sample proportion test nor a power solver)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from domain.errors import InvalidInput

ALPHA = 0.05  # 95 % intervals, a two-sided 5 % test


@dataclass(frozen=True, slots=True)
class Rate:
    responded: int
    contacted: int
    rate: float | None  # None with nobody contacted
    low: float | None  # Wilson 95 % interval
    high: float | None


@dataclass(frozen=True, slots=True)
class Uplift:
    """An arm's response rate less the control group's."""

    difference: float
    low: float  # Newcombe's (Wilson-based) 95 % interval for the difference
    high: float
    z: float  # pooled two-proportion z statistic
    p_value: float  # two-sided


def response_rate(responded: int, contacted: int) -> Rate:
    if contacted == 0:
        return Rate(responded, 0, None, None, None)
    low, high = proportion_confint(responded, contacted, alpha=ALPHA, method="wilson")
    return Rate(responded, contacted, responded / contacted, float(low), float(high))


def uplift(responded: int, contacted: int, control_responded: int, control: int) -> Uplift | None:
    """None when either group is empty: there is nothing to compare."""
    if contacted == 0 or control == 0:
        return None
    difference = responded / contacted - control_responded / control
    low, high = confint_proportions_2indep(
        responded,
        contacted,
        control_responded,
        control,
        method="newcomb",
        compare="diff",
        alpha=ALPHA,
    )
    if responded + control_responded in (0, contacted + control):
        # Nobody (or everybody) responded in either group: no variance to test against.
        return Uplift(difference, float(low), float(high), 0.0, 1.0)
    z, p = proportions_ztest([responded, control_responded], [contacted, control])
    return Uplift(difference, float(low), float(high), float(z), float(p))


def sample_size(
    baseline_rate: float, minimum_detectable_effect: float, power: float, alpha: float
) -> int:
    """Customers per group (an arm, and the control group alike) to detect an absolute change
    of `minimum_detectable_effect` from `baseline_rate` with the given power, two-sided at
    `alpha` (Cohen's h, the normal approximation: statsmodels' NormalIndPower)."""
    target = baseline_rate + minimum_detectable_effect
    if not 0 < baseline_rate < 1:
        raise InvalidInput("baselineRate", "a rate between 0 and 1")
    if minimum_detectable_effect == 0 or not 0 < target < 1:
        raise InvalidInput(
            "minimumDetectableEffect", "a change that keeps the rate between 0 and 1, not 0"
        )
    if not 0 < power < 1:
        raise InvalidInput("power", "between 0 and 1, e.g. 0.8")
    if not 0 < alpha < 0.5:
        raise InvalidInput("alpha", "between 0 and 0.5, e.g. 0.05")
    effect = abs(proportion_effectsize(target, baseline_rate))
    n = NormalIndPower().solve_power(
        effect_size=effect, power=power, alpha=alpha, ratio=1.0, alternative="two-sided"
    )
    return math.ceil(float(n))
