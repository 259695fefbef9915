"""The campaign report: each arm against its own control slice.

Rates are intention-to-treat: responded ÷ members of the group (everyone eligible the draw put
there, contacted or not), because only the draw — not who an RM managed to reach — makes the
arm and its control alike. `contacted` is shown beside it. A control customer is in the slice
of the arm they would have been in (domain/campaigns/assignment.py), checked for that arm's
channel, so the comparison is like with like.

The incremental contribution is value scoring's: each member's monthly contribution after
(latest scored month at attribution) minus before (latest scored month at launch); the arm's
mean change minus its control's, times the arm's members. ROI = (incremental − cost) ÷ cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from domain.campaigns.lifecycle import Campaign

if TYPE_CHECKING:
    # statsmodels (numpy, scipy, pandas) loads only when a report is built, not at start-up.
    from domain.campaigns.statistics import Rate, Uplift


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """One arm's treated members, or its control slice, as the store counts them."""

    members: int
    contacted: int
    responded: int
    # Members with a contribution both before and after, and the sum of their changes.
    valued: int
    change: Decimal
    # The same for the responders only.
    responders_valued: int
    responders_change: Decimal


EMPTY = GroupFigures(0, 0, 0, 0, Decimal(0), 0, Decimal(0))


@dataclass(frozen=True, slots=True)
class BreakdownFigures:
    """Treated members of one channel, branch or RM, and their control counterparts."""

    key: str | None  # the channel's name, or the branch's or RM's id; None: none
    members: int
    contacted: int
    responded: int
    control_members: int
    control_responded: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Figures:
    groups: Mapping[tuple[int, bool], GroupFigures]
    by_channel: Sequence[BreakdownFigures]
    by_branch: Sequence[BreakdownFigures]
    by_rm: Sequence[BreakdownFigures]


@dataclass(frozen=True, slots=True)
class ArmReport:
    position: int
    name: str
    channel: str
    planned: int  # members the plan gives the arm: planned contacts × its share
    planned_control: int  # and its control slice, in the holdout's proportion
    treated: Rate  # responded ÷ members, Wilson 95 %
    contacted: int
    control: Rate
    uplift: Uplift | None  # None without members on either side
    cost: Decimal
    incremental_contribution: Decimal | None  # None without values on either side
    responders_mean_change: Decimal | None
    roi: float | None  # None at no cost or without the contribution
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CampaignReport:
    arms: tuple[ArmReport, ...]
    cost: Decimal
    incremental_contribution: Decimal | None
    roi: float | None
    by_channel: tuple[BreakdownFigures, ...]
    by_branch: tuple[BreakdownFigures, ...]
    by_rm: tuple[BreakdownFigures, ...]
    warnings: tuple[str, ...]


def _mean(total: Decimal, n: int) -> Decimal | None:
    return None if n == 0 else total / n


def _roi(incremental: Decimal | None, cost: Decimal) -> float | None:
    if incremental is None or cost == 0:
        return None
    return float((incremental - cost) / cost)


def arm_report(
    campaign: Campaign,
    position: int,
    treated: GroupFigures,
    control: GroupFigures,
    now: datetime,
) -> ArmReport:
    from domain.campaigns.statistics import response_rate, uplift

    plan = campaign.plan
    arm = plan.arms[position]
    planned = math.ceil(plan.planned_contacts * arm.share)
    held = plan.holdout_share
    planned_control = 0 if held == 0 else math.ceil(planned * held / (1 - held))
    cost = Decimal(treated.contacted) * plan.cost_per_contact.get(arm.channel, Decimal(0))
    treated_mean = _mean(treated.change, treated.valued)
    control_mean = _mean(control.change, control.valued)
    incremental = (
        None
        if treated_mean is None or control_mean is None
        else ((treated_mean - control_mean) * treated.members).quantize(Decimal("0.01"))
    )
    warnings: list[str] = []
    if treated.members < planned or control.members < planned_control:
        warnings.append(
            f"below the planned size ({treated.members} of {planned} treated, "
            f"{control.members} of {planned_control} control): do not read a result yet"
        )
    if now < plan.ends_at:
        warnings.append("the attribution window is still open: figures will change")
    if control.members == 0:
        warnings.append("no control group: the uplift cannot be measured")
    responders_mean = _mean(treated.responders_change, treated.responders_valued)
    return ArmReport(
        position=position,
        name=arm.name,
        channel=arm.channel.value,
        planned=planned,
        planned_control=planned_control,
        treated=response_rate(treated.responded, treated.members),
        contacted=treated.contacted,
        control=response_rate(control.responded, control.members),
        uplift=uplift(treated.responded, treated.members, control.responded, control.members),
        cost=cost,
        incremental_contribution=incremental,
        responders_mean_change=None
        if responders_mean is None
        else responders_mean.quantize(Decimal("0.01")),
        roi=_roi(incremental, cost),
        warnings=tuple(warnings),
    )


def campaign_report(
    campaign: Campaign,
    groups: Mapping[tuple[int, bool], GroupFigures],  # (arm position, control) → figures
    by_channel: Sequence[BreakdownFigures],
    by_branch: Sequence[BreakdownFigures],
    by_rm: Sequence[BreakdownFigures],
    now: datetime,
) -> CampaignReport:
    arms = tuple(
        arm_report(
            campaign,
            n,
            groups.get((n, False), EMPTY),
            groups.get((n, True), EMPTY),
            now,
        )
        for n in range(len(campaign.plan.arms))
    )
    cost = sum((a.cost for a in arms), Decimal(0))
    increments = [a.incremental_contribution for a in arms]
    incremental = (
        None
        if any(x is None for x in increments)
        else sum((x for x in increments if x), Decimal(0))
    )
    warnings = sorted({w for a in arms for w in a.warnings})
    if cost > campaign.plan.budget:
        warnings.append(f"the contacts cost {cost:.2f} CNY, above the budget")
    return CampaignReport(
        arms=arms,
        cost=cost,
        incremental_contribution=incremental,
        roi=_roi(incremental, cost),
        by_channel=tuple(by_channel),
        by_branch=tuple(by_branch),
        by_rm=tuple(by_rm),
        warnings=tuple(warnings),
    )
