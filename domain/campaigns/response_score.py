"""The transparent response score: who is likelier to say yes, in points anyone can check.

Recency, frequency and monetary value (RFM) plus the customer's own past campaign responses,
each worth a fixed number of points by the bands below; the sum, 0–100, orders contact tasks
within a value tier. Every input and its points are kept on the campaign member and shown.
The bands are data: the launch's SQL is generated from them (api/db/campaign_runs.py), and a
test checks the SQL and `score` agree on the same customers.

No learned model replaces it until one beats it on held-out past campaigns (issue 24).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# (days since the last interaction at most, points); never contacted scores 0.
RECENCY_BANDS: tuple[tuple[int, int], ...] = ((30, 30), (90, 20), (180, 10))
FREQUENCY_DAYS = 90
# (interactions in the last FREQUENCY_DAYS at least, points)
FREQUENCY_BANDS: tuple[tuple[int, int], ...] = ((6, 20), (3, 14), (1, 7))
# (latest monthly contribution in CNY at least, points); strictly above 0 for the last band.
MONETARY_BANDS: tuple[tuple[Decimal, int], ...] = (
    (Decimal("1000"), 20),
    (Decimal("200"), 14),
    (Decimal("0.01"), 7),
)
# Past responses: 30 points × the response rate, smoothed as (responses + 1) / (contacts + 2),
# so a customer never contacted before gets half (15) and one answer moves it by little.
PAST_POINTS = 30


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    recency_days: int | None  # days since the last interaction; None: none recorded
    frequency: int  # interactions in the last FREQUENCY_DAYS
    monetary: Decimal | None  # latest scored monthly contribution, CNY; None: never scored
    past_contacts: int  # times treated in earlier campaigns
    past_responses: int  # of which responded


@dataclass(frozen=True, slots=True)
class ScorePoints:
    recency: int
    frequency: int
    monetary: int
    past: int

    @property
    def total(self) -> int:
        return self.recency + self.frequency + self.monetary + self.past


def past_points(contacts: int, responses: int) -> int:
    """PAST_POINTS × (responses + 1) / (contacts + 2), rounded half up, in integers."""
    return (2 * PAST_POINTS * (responses + 1) + (contacts + 2)) // (2 * (contacts + 2))


def score(inputs: ScoreInputs) -> ScorePoints:
    recency = 0
    if inputs.recency_days is not None:
        recency = next((p for days, p in RECENCY_BANDS if inputs.recency_days <= days), 0)
    frequency = next((p for least, p in FREQUENCY_BANDS if inputs.frequency >= least), 0)
    monetary = 0
    if inputs.monetary is not None:
        monetary = next((p for least, p in MONETARY_BANDS if inputs.monetary >= least), 0)
    return ScorePoints(
        recency=recency,
        frequency=frequency,
        monetary=monetary,
        past=past_points(inputs.past_contacts, inputs.past_responses),
    )


# The contact list's order: the value tier first (the customers who matter most to the bank
# are called first, as in contact planning), then the response score.
TIER_RANK: dict[str | None, int] = {"high": 0, "potential": 1, None: 2, "low": 3, "negative": 4}


def priority(tier: str | None, total: int) -> int:
    """Lower comes first: the tier's rank, then the higher score."""
    return TIER_RANK.get(tier, 2) * 1000 + (100 - total)
