"""Who is in which arm, and who is held out: deterministic and stable.

A customer's place is a hash of the campaign and the customer: the first 8 bytes of
sha256("campaign:{id}:customer:{id}"), an integer in [0, 2⁶⁴), read as a point of the unit
interval. The same customer always lands in the same place of the same campaign (a relaunch,
a rerun after a crash, another worker), and no two campaigns draw alike.

The first `holdout_share` of the interval is the control group, the rest the treated; each is
cut among the arms in their order by the arms' shares. A control customer therefore also has
an arm — the one they would have been in — and is checked for that arm's channel exactly as a
treated customer of it is: each arm is compared with its own slice of the control group,
customers who would have passed the same checks (docs/campaigns.md).

The cuts are exact integers (`cuts`), so the launch's SQL (api/db/campaign_runs.py, which
hashes with PostgreSQL's sha256) and this module assign every customer alike; a test checks
both on the same customers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

SPAN = 2**64
# PostgreSQL has no unsigned 64-bit integer: places are shifted down by 2⁶³ (the top bit
# flipped) to compare as bigint, keeping their order.
SHIFT = 2**63


@dataclass(frozen=True, slots=True)
class Placement:
    arm: int  # the arm's position in the campaign
    control: bool  # held out: never contacted, counted the same way


def place(campaign_id: int, customer_id: int) -> int:
    """The customer's place in [0, 2⁶⁴) for this campaign."""
    digest = hashlib.sha256(f"campaign:{campaign_id}:customer:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def cuts(holdout_share: Decimal, shares: Sequence[Decimal]) -> list[int]:
    """The 2·k − 1 inner cuts of [0, 2⁶⁴), ascending: the control group's arms, the holdout's
    end, the treated arms. A place below cut j and at or above cut j − 1 is in slot j: slots
    0 … k − 1 are control (arm = slot), k … 2k − 1 treated (arm = slot − k)."""
    held = Fraction(holdout_share)
    running = Fraction(0)
    inner: list[Fraction] = []
    for share in shares[:-1]:
        running += Fraction(share)
        inner.append(running)
    bounds = [held * x for x in inner] + [held] + [held + (1 - held) * x for x in inner]
    # A place p is below the point x·2⁶⁴ exactly when p < ⌈x·2⁶⁴⌉.
    return [math.ceil(x * SPAN) for x in bounds]


def slot(position: int, inner_cuts: Sequence[int]) -> int:
    """How many cuts are at or below the place (PostgreSQL's width_bucket over the cuts)."""
    return sum(1 for cut in inner_cuts if cut <= position)


def assign(
    campaign_id: int, customer_id: int, holdout_share: Decimal, shares: Sequence[Decimal]
) -> Placement:
    found = slot(place(campaign_id, customer_id), cuts(holdout_share, shares))
    arms = len(shares)
    return Placement(arm=found % arms, control=found < arms)
