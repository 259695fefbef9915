"""Alerts: what a fired rule leaves behind, with its evidence, until someone acts on it."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from domain.access.principal import Principal, Role
from domain.detection.rules import RuleKind, Severity
from domain.relationships import ReasonCode, RelationshipState


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # someone has seen it; the contact task is still open
    CLOSED = "closed"  # its contact task was completed


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that fired for a customer: the candidate for an alert.

    `dedupe_key` names the event that fired it (a movement, a holding, a silence period, a
    birthday year), so the same event never alerts twice, however often it is delivered.
    """

    customer_id: int
    rule: RuleKind
    severity: Severity
    dedupe_key: str
    evidence: Mapping[str, Any]
    observed_at: datetime
    # The interaction the finding is about (a complaint): its own task, if still open, is the
    # alert's work too, rather than a second task for the same thing.
    interaction_id: int | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    customer_id: int
    rule: RuleKind
    severity: Severity
    status: AlertStatus
    dedupe_key: str
    evidence: Mapping[str, Any]
    task_id: int | None
    fired_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    statuses: frozenset[AlertStatus] = frozenset()
    severities: frozenset[Severity] = frozenset()
    rules: frozenset[RuleKind] = frozenset()
    customer_id: int | None = None
    rm_id: int | None = None  # only this RM's portfolio
    unassigned_only: bool = False  # only customers without an RM (the call-center queue)


def may_handle(principal: Principal, customer_rm: int | None) -> bool:
    """Who sees and acknowledges a customer's alerts: the customer's RM, the call center for
    customers without one (their contact tasks go to its queue), and approvers, compliance
    and admins for every customer."""
    match principal.role:
        case Role.RELATIONSHIP_MANAGER:
            return customer_rm is not None and customer_rm == principal.rm_id
        case Role.AGENT:
            return customer_rm is None
        case Role.APPROVER | Role.COMPLIANCE | Role.ADMIN:
            return True
        case _:
            return False


def alert_scope(principal: Principal) -> AlertFilter:
    """The row rule of `may_handle` as a filter over lists of alerts."""
    match principal.role:
        case Role.RELATIONSHIP_MANAGER:
            return AlertFilter(rm_id=principal.rm_id if principal.rm_id is not None else -1)
        case Role.AGENT:
            return AlertFilter(unassigned_only=True)
        case _:
            return AlertFilter()


SEVERITY_ORDER = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


def in_cooldown(last_fired: datetime | None, cooldown_hours: int, now: datetime) -> bool:
    """A rule stays quiet for a customer for its cooldown after the last alert it raised."""
    return last_fired is not None and now - last_fired < timedelta(hours=cooldown_hours)


# Repeated high-severity alerts suggest the relationship deserves a closer look: this many
# within the window produce a proposal one level up the ladder, for a person to decide.
ESCALATE_AFTER = 3
ESCALATION_WINDOW = timedelta(days=30)
DETECTOR = "detector"  # the actor of everything the detector writes

_NEXT_LEVEL = {
    RelationshipState.NORMAL: RelationshipState.WATCH,
    RelationshipState.WATCH: RelationshipState.DOUBTFUL,
    RelationshipState.DOUBTFUL: RelationshipState.EXIT,
}
_REASONS = {
    RuleKind.BALANCE_DROP: ReasonCode.BALANCE_DROP,
    RuleKind.LARGE_FUND_MOVEMENT: ReasonCode.BALANCE_DROP,
    RuleKind.COMPLAINT: ReasonCode.COMPLAINTS,
    RuleKind.INDUSTRY_DECLINE: ReasonCode.INDUSTRY_DECLINE,
}


def next_level(state: RelationshipState) -> RelationshipState | None:
    """One step up the ladder; None at exit (nothing further to propose)."""
    return _NEXT_LEVEL.get(state)


def escalation_reason(rules: list[RuleKind]) -> ReasonCode:
    """The reason code of the most frequent rule among the recent high-severity alerts."""
    counts: dict[RuleKind, int] = {}
    for rule in rules:
        counts[rule] = counts.get(rule, 0) + 1
    top = max(counts, key=lambda r: (counts[r], r.value)) if counts else None
    return _REASONS.get(top, ReasonCode.OTHER) if top else ReasonCode.OTHER


def contact_title(finding: Finding) -> str:
    return f"contact the customer: {finding.rule.value.replace('_', ' ')} ({finding.severity})"


def anniversaries(as_of: date, days_ahead: int) -> list[tuple[int, int]]:
    """The (month, day) pairs from as_of through as_of + days_ahead; 29 February birthdays
    are celebrated on the 28th in years without one."""
    pairs: list[tuple[int, int]] = []
    for offset in range(days_ahead + 1):
        day = as_of + timedelta(days=offset)
        pairs.append((day.month, day.day))
        leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
        if day.month == 2 and day.day == 28 and not leap:
            pairs.append((2, 29))
    return pairs


class AlertReader(Protocol):
    async def alerts(self, wanted: AlertFilter, first: int, after: int | None) -> list[Alert]:
        """Newest first; ids below `after` when given."""
        ...

    async def alerts_by_customer(self, ids: Sequence[int]) -> Mapping[int, Sequence[Alert]]:
        """Each customer's alerts that are not closed, newest first."""
        ...
