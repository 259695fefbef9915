"""Running detection: a batch of events (or a date, for time-based rules) in, alerts out.

Handlers are idempotent: an event delivered twice finds its alert's dedupe key taken, so
the worker can redeliver after a crash without creating a second alert or task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from domain.access.principal import Principal
from domain.activity import ActivityEvent
from domain.contact_planning import UNKNOWN, ContactProfile, plan_contact
from domain.detection import detector
from domain.detection.alerts import (
    DETECTOR,
    ESCALATE_AFTER,
    ESCALATION_WINDOW,
    SEVERITY_ORDER,
    Alert,
    AlertStatus,
    Finding,
    anniversaries,
    contact_title,
    escalation_reason,
    in_cooldown,
    may_handle,
    next_level,
)
from domain.detection.rules import DetectionRule, DetectionRuleStore, RuleKind, Severity
from domain.errors import DomainError, InvalidInput, NotFound
from domain.relationship_changes import Factory as RelationshipFactory
from domain.relationship_changes import Move, propose_change
from domain.relationships import RelationshipState
from domain.tasks import NewTask, TaskKind, default_owner
from domain.transaction import Transaction

log = logging.getLogger(__name__)


# One outbox event as the stream carries it: the same event live subscribers get.
Event = ActivityEvent


class DetectionFacts(Protocol):
    """Gathers, set-based, what the rules compare with their thresholds."""

    async def movements(
        self, ids: Sequence[int], lookback_days: Mapping[str, int], window_days: Mapping[str, int]
    ) -> list[detector.MovementFacts]: ...

    async def closures(self, holding_ids: Sequence[int]) -> list[detector.ClosureFacts]: ...

    async def complaints(self, interaction_ids: Sequence[int]) -> list[detector.ComplaintFacts]: ...

    async def silent(self, now: datetime, days: Mapping[str, int]) -> list[detector.SilenceFacts]:
        """Customers without an interaction for at least `days` (per customer kind)."""
        ...

    async def missed_visits(
        self, now: datetime, days: Mapping[str, int], visits: Mapping[str, int]
    ) -> list[detector.VisitFacts]:
        """Customers with an RM whose calendar (visits per days, by tier then kind) asks for
        more RM visits in the last `days` than were made; customers newer than the period
        are left out."""
        ...

    async def occasions(
        self, month_days: Sequence[tuple[int, int]]
    ) -> list[detector.OccasionFacts]:
        """Customers whose birthday or relationship anniversary falls on one of the days."""
        ...

    async def declining(self) -> list[detector.IndustryFacts]: ...


class AlertUnitOfWork(Transaction, Protocol):
    """What raising and handling alerts reads and writes, in one transaction."""

    async def lock_customers(self, ids: Sequence[int]) -> Mapping[int, int | None]:
        """Lock the customers (serialises cooldown checks across workers); their RM ids."""
        ...

    async def last_alerts(
        self, ids: Sequence[int]
    ) -> Mapping[tuple[int, RuleKind, Severity], datetime]:
        """When each (customer, rule, severity) last raised an alert."""
        ...

    async def known_keys(self, keys: Sequence[str]) -> set[str]:
        """The dedupe keys among `keys` that have raised an alert before."""
        ...

    async def contact_profiles(self, ids: Sequence[int]) -> Mapping[int, ContactProfile]:
        """What planning a contact reads of each customer (domain/contact_planning.py)."""
        ...

    async def open_tasks_of_interactions(self, interaction_ids: Sequence[int]) -> Mapping[int, int]:
        """The open task each interaction opened (a complaint's), by interaction id."""
        ...

    async def open_alerts(
        self, alerts: Sequence[tuple[Finding, NewTask | int]], actor: str, fired_at: datetime
    ) -> list[tuple[int, int]]:
        """Insert each alert with its task: a new contact task, or (an int) the open task it
        is linked to; (alert id, task id) in the same order. Raises if a dedupe key was taken
        meanwhile (the caller holds the customers' locks, so only a bug gets there; the batch
        is then retried)."""
        ...

    async def emit_many(self, events: Sequence[tuple[int, str, dict[str, Any]]]) -> None: ...

    async def high_alerts_since_last_proposal(
        self, ids: Sequence[int], since: datetime
    ) -> Mapping[int, list[RuleKind]]:
        """The rules of high-severity alerts after `since` and after the customer's latest
        state-change proposal, per customer."""
        ...

    async def current_relationship(self, customer_id: int) -> tuple[str, int] | None:
        """(state, version) of the relationship, None if it has none."""
        ...

    async def alert_for_update(self, alert_id: int) -> Alert | None: ...

    async def acknowledge(self, alert_id: int, actor: str, at: datetime) -> None: ...


AlertFactory = Callable[[], AlertUnitOfWork]


@dataclass(slots=True)
class DetectionReport:
    events: int = 0
    findings: int = 0
    alerts: list[int] = field(default_factory=list)
    duplicates: int = 0  # findings whose event had alerted before
    cooled_down: int = 0  # findings silenced by the rule's cooldown
    proposals: list[int] = field(default_factory=list)

    def add(self, other: DetectionReport) -> None:
        self.events += other.events
        self.findings += other.findings
        self.alerts += other.alerts
        self.duplicates += other.duplicates
        self.cooled_down += other.cooled_down
        self.proposals += other.proposals


async def raise_alerts(
    alerts: AlertFactory,
    relationships: RelationshipFactory,
    findings: Sequence[Finding],
    rules: Mapping[RuleKind, DetectionRule],
    now: datetime,
) -> DetectionReport:
    """Open an alert and a contact task per new finding, then propose escalations."""
    report = DetectionReport(findings=len(findings))
    if not findings:
        return report
    ordered = sorted(findings, key=lambda f: (f.customer_id, f.observed_at, f.dedupe_key))
    customers = sorted({f.customer_id for f in ordered})
    escalate: set[int] = set()
    chosen: list[tuple[Finding, NewTask | int]] = []
    async with alerts() as uow:
        rm_ids = await uow.lock_customers(customers)
        last = dict(await uow.last_alerts(customers))
        seen = await uow.known_keys([f.dedupe_key for f in ordered])
        # A complaint already opened its own task: the alert is the same piece of work, and
        # completing that task closes it (issue 23: it opened a second task, and completing
        # the complaint left the alert open).
        profiles = await uow.contact_profiles(customers)
        linked = await uow.open_tasks_of_interactions(
            sorted({f.interaction_id for f in ordered if f.interaction_id is not None})
        )
        for finding in ordered:
            if finding.customer_id not in rm_ids:
                continue  # erased or gone since the event: nobody to contact
            if finding.dedupe_key in seen:
                report.duplicates += 1
                continue
            # A rule's cooldown silences repeats of the same or lower severity; something more
            # severe (the last product of a kind closing, after another closure) gets through.
            latest = max(
                (
                    at
                    for severity in Severity
                    if SEVERITY_ORDER[severity] >= SEVERITY_ORDER[finding.severity]
                    and (at := last.get((finding.customer_id, finding.rule, severity)))
                ),
                default=None,
            )
            if in_cooldown(latest, rules[finding.rule].cooldown_hours, now):
                report.cooled_down += 1
                continue
            last[(finding.customer_id, finding.rule, finding.severity)] = now
            existing = (
                None if finding.interaction_id is None else linked.get(finding.interaction_id)
            )
            if existing is not None:
                chosen.append((finding, existing))
                continue
            # When and how: from the severity, the customer's tier and the channel they
            # prefer and consented to (domain/contact_planning.py), not a fixed 3 days.
            plan = plan_contact(finding.severity, profiles.get(finding.customer_id, UNKNOWN), now)
            chosen.append(
                (
                    finding,
                    NewTask(
                        customer_id=finding.customer_id,
                        kind=TaskKind.CONTACT,
                        title=contact_title(finding),
                        owner=default_owner(rm_ids[finding.customer_id]),
                        due_at=plan.due_at,
                        source_interaction_id=None,
                        planned_channel=plan.channel,
                    ),
                )
            )
        # Written set-based: a burst of findings (a scheduled run, a feed catching up) costs
        # a few statements per batch, not a few per alert.
        opened = await uow.open_alerts(chosen, DETECTOR, now)
        events: list[tuple[int, str, dict[str, Any]]] = []
        for (finding, work), (alert_id, task_id) in zip(chosen, opened, strict=True):
            events.append(
                (
                    finding.customer_id,
                    "alert.opened",
                    {
                        "alertId": alert_id,
                        "rule": finding.rule.value,
                        "severity": finding.severity.value,
                        "taskId": task_id,
                    },
                )
            )
            if isinstance(work, NewTask):
                events.append(
                    (
                        finding.customer_id,
                        "task.opened",
                        {"taskId": task_id, "kind": TaskKind.CONTACT},
                    )
                )
            report.alerts.append(alert_id)
            if finding.severity is Severity.HIGH:
                escalate.add(finding.customer_id)
        await uow.emit_many(events)
        candidates = await uow.high_alerts_since_last_proposal(
            sorted(escalate), now - ESCALATION_WINDOW
        )
        due = {c: r for c, r in candidates.items() if len(r) >= ESCALATE_AFTER}
        states = {c: await uow.current_relationship(c) for c in due}
        await uow.commit()
    for customer_id, recent in due.items():
        proposal_id = await _propose(relationships, customer_id, recent, states[customer_id], now)
        if proposal_id is not None:
            report.proposals.append(proposal_id)
    return report


async def _propose(
    relationships: RelationshipFactory,
    customer_id: int,
    recent: list[RuleKind],
    state: tuple[str, int] | None,
    now: datetime,
) -> int | None:
    current = RelationshipState(state[0]) if state else RelationshipState.NORMAL
    version = state[1] if state else 0
    target = next_level(current)
    if target is None:
        return None
    move = Move(
        customer_id=customer_id,
        to_state=target,
        reason_code=escalation_reason(recent),
        note=f"{len(recent)} high-severity alerts within {ESCALATION_WINDOW.days} days: "
        + ", ".join(sorted({r.value for r in recent})),
        expected_version=version,
    )
    try:
        proposal = await propose_change(relationships, move, DETECTOR, now)
    except DomainError as exc:
        # A proposal already waits, or the relationship moved meanwhile: a person is on it.
        log.info("no escalation proposal for customer %s: %s", customer_id, exc)
        return None
    return proposal.id


def _ids(events: Sequence[Event], topic: str, key: str) -> list[int]:
    """The ids named by events of a topic. An event without a usable id is logged and left
    out: retrying cannot mend it, and it must not hold up the rest of its batch."""
    found = []
    for event in events:
        if event.topic != topic:
            continue
        value = event.payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            found.append(value)
        else:
            log.error("event %s (%s) has no usable %s; not detected", event.id, topic, key)
    return found


def _rule_map(rules: Sequence[DetectionRule]) -> dict[RuleKind, DetectionRule]:
    return {r.kind: r for r in rules}


async def detect_events(
    events: Sequence[Event],
    store: DetectionRuleStore,
    facts: DetectionFacts,
    alerts: AlertFactory,
    relationships: RelationshipFactory,
    now: datetime,
) -> DetectionReport:
    """Apply the event-driven rules to a batch of outbox events."""
    rules = _rule_map(await store.rules())
    findings: list[Finding] = []
    movement_ids = _ids(events, "fund_movement.recorded", "movementId")
    closed = _ids(events, "holding.closed", "holdingId")
    complaints = _ids(
        [e for e in events if e.payload.get("kind") == "complaint"],
        "interaction.recorded",
        "interactionId",
    )
    large = detector.enabled(rules, RuleKind.LARGE_FUND_MOVEMENT)
    drop = detector.enabled(rules, RuleKind.BALANCE_DROP)
    if movement_ids and (large or drop):
        lookback = detector.window_days(large, "lookback_days") if large else {}
        window = detector.window_days(drop, "window_days") if drop else {}
        for m in await facts.movements(movement_ids, lookback, window):
            for rule, check in (
                (large, detector.large_fund_movement),
                (drop, detector.balance_drop),
            ):
                found = check(rule, m) if rule else None
                if found:
                    findings.append(found)
    closure = detector.enabled(rules, RuleKind.PRODUCT_CLOSURE)
    if closed and closure:
        findings += [
            f for c in await facts.closures(closed) if (f := detector.product_closure(closure, c))
        ]
    complaint = detector.enabled(rules, RuleKind.COMPLAINT)
    if complaints and complaint:
        findings += [detector.complaint(complaint, c) for c in await facts.complaints(complaints)]
    report = await raise_alerts(alerts, relationships, findings, rules, now)
    report.events = len(events)
    return report


CHUNK = 1000  # findings per transaction in a scheduled run


async def detect_scheduled(
    as_of: date,
    store: DetectionRuleStore,
    facts: DetectionFacts,
    alerts: AlertFactory,
    relationships: RelationshipFactory,
    now: datetime,
) -> DetectionReport:
    """The time-based rules (silence, birthdays and anniversaries, declining industries) as
    of a date; running it twice for the same date raises nothing new."""
    rules = _rule_map(await store.rules())
    findings: list[Finding] = []
    quiet = detector.enabled(rules, RuleKind.SILENCE)
    if quiet:
        for s in await facts.silent(now, detector.window_days(quiet, "days")):
            if (f := detector.silence(quiet, s, now)) is not None:
                findings.append(f)
    occasion = detector.enabled(rules, RuleKind.BIRTHDAY)
    if occasion:
        ahead = max(detector.window_days(occasion, "days_ahead").values())
        for o in await facts.occasions(anniversaries(as_of, ahead)):
            findings += detector.occasions(occasion, o, as_of, now)
    calendar = detector.enabled(rules, RuleKind.MISSED_VISIT)
    if calendar:
        due = await facts.missed_visits(
            now,
            detector.window_days(calendar, "days"),
            detector.window_days(calendar, "visits"),
        )
        for v in due:
            if (f := detector.missed_visit(calendar, v, now)) is not None:
                findings.append(f)
    decline = detector.enabled(rules, RuleKind.INDUSTRY_DECLINE)
    if decline:
        for i in await facts.declining():
            if (f := detector.industry_decline(decline, i, as_of, now)) is not None:
                findings.append(f)
    report = DetectionReport()
    for start in range(0, len(findings), CHUNK):
        report.add(
            await raise_alerts(alerts, relationships, findings[start : start + CHUNK], rules, now)
        )
    return report


async def acknowledge_alert(
    alerts: AlertFactory, alert_id: int, principal: Principal, now: datetime
) -> Alert:
    """Mark an open alert as seen; its contact task stays open until it is done."""
    async with alerts() as uow:
        alert = await uow.alert_for_update(alert_id)
        rm_ids = {} if alert is None else await uow.lock_customers([alert.customer_id])
        # An alert the caller may not handle does not exist for them.
        if alert is None or not may_handle(principal, rm_ids.get(alert.customer_id)):
            raise NotFound("alert", str(alert_id))
        if alert.status is not AlertStatus.OPEN:
            raise InvalidInput("alertId", f"the alert is already {alert.status.value}")
        await uow.acknowledge(alert_id, principal.subject, now)
        await uow.emit(
            alert.customer_id, "alert.acknowledged", {"alertId": alert_id, "by": principal.role}
        )
        await uow.commit()
    return replace(
        alert,
        status=AlertStatus.ACKNOWLEDGED,
        acknowledged_by=principal.subject,
        acknowledged_at=now,
    )
