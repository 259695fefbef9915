"""Who is in which arm, and who is held out: deterministic and stable.

A customer's draw is a hash of the campaign and the customer, read as a number in [0, 1): the
same customer always lands in the same place of the same campaign (a relaunch, a rerun after a
crash, another worker), and no two campaigns draw alike. The first `holdout_share` of the unit
interval is the control group (never contacted, counted the same way); the rest is cut among
the arms in the order given, each by its share of the treated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

SCALE = float(2**64)


@dataclass(frozen=True, slots=True)
class ArmShare:
    name: str
    share: float  # of the treated customers; the arms' shares sum to 1


def draw(campaign_id: int, customer_id: int) -> float:
    """The customer's place in [0, 1) for this campaign."""
    digest = hashlib.sha256(f"campaign:{campaign_id}:customer:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / SCALE


def assign(
    campaign_id: int, customer_id: int, holdout_share: float, arms: Sequence[ArmShare]
) -> str | None:
    """The arm's name, or None for the holdout (control) group."""
    place = draw(campaign_id, customer_id)
    if place < holdout_share:
        return None
    # Where the customer falls among the treated, rescaled to [0, 1).
    treated = (place - holdout_share) / (1 - holdout_share)
    upper = 0.0
    for arm in arms:
        upper += arm.share
        if treated < upper:
            return arm.name
    return arms[-1].name  # the shares' rounding: the last arm takes what is left
