"""Survivorship: which record survives, where each value comes from, and what else a merge
decides (domain/identity/merging.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.identity.merging import (
    AlreadyMerged,
    AutoMerge,
    CannotMerge,
    MergeErased,
    MergeSide,
    Survivorship,
    plan_merge,
    restrictive_consents,
    stricter,
)
from domain.relationships import RelationshipState as S

OLD = datetime(2020, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 1, 1, tzinfo=UTC)


def _side(cid: int, systems: set[str], **values: object) -> MergeSide:
    changed = values.pop("changed", {})
    return MergeSide(
        id=cid,
        kind=str(values.pop("kind", "personal")),
        created_at=values.pop("created", OLD),  # type: ignore[arg-type]
        updated_at=OLD,
        systems=frozenset(systems),
        completeness=values.pop("completeness", 50),  # type: ignore[arg-type]
        values=values,
        changed_at=changed,  # type: ignore[arg-type]
        erased=bool(values.pop("erased", False)),
    )


def test_the_core_banking_record_survives_then_the_more_complete_then_the_older() -> None:
    core, cards = _side(1, {"core_banking"}), _side(2, {"cards"}, completeness=90)
    assert plan_merge(cards, core).survivor_id == 1
    assert plan_merge(cards, core).reason == "its source system (core_banking)"
    full, thin = _side(3, set(), completeness=90), _side(4, set(), completeness=40)
    assert plan_merge(thin, full).survivor_id == 3
    older, newer = _side(6, set(), created=OLD), _side(5, set(), created=NEW)
    assert plan_merge(newer, older).survivor_id == 6
    # A steward may name the survivor; it must be one of the two.
    assert plan_merge(core, cards, survivor_id=2).reason == "chosen by the data steward"
    with pytest.raises(CannotMerge):
        plan_merge(core, cards, survivor_id=9)


def test_each_field_follows_its_rule_and_keeps_its_lineage() -> None:
    core = _side(
        1,
        {"core_banking"},
        displayName="张伟",
        **{"personal.occupation": "教师", "personal.birthDate": date(1985, 3, 14)},
        changed={"personal.occupation": OLD},
    )
    cards = _side(
        2,
        {"cards"},
        displayName="張偉",
        **{
            "personal.occupation": "律师",
            "personal.employer": "某律所",
            "personal.birthDate": date(1985, 3, 14),
        },
        changed={"personal.occupation": NEW},
    )
    plan = plan_merge(core, cards)
    # Source priority: core banking's name; most recent: the card centre's newer occupation;
    # only one has an employer: taken; both agree on the birth date: nothing to change.
    assert plan.changes == {"personal.occupation": "律师", "personal.employer": "某律所"}
    assert plan.lineage["displayName"].customer_id == 1
    assert plan.lineage["displayName"].rule is Survivorship.SOURCE_PRIORITY
    assert plan.lineage["personal.occupation"].customer_id == 2
    assert plan.lineage["personal.occupation"].rule is Survivorship.MOST_RECENT
    assert plan.lineage["personal.employer"].rule is None
    assert plan.lineage["personal.employer"].system == "cards"


def test_a_credit_status_and_its_source_come_from_the_same_record() -> None:
    core = _side(
        1,
        {"core_banking"},
        **{"personal.creditStatus": "good", "personal.creditStatusSource": "征信中心"},
        changed={"personal.creditStatus": OLD},
    )
    loans = _side(
        2,
        {"loans"},
        **{"personal.creditStatus": "overdue", "personal.creditStatusSource": "贷款系统"},
        changed={"personal.creditStatus": NEW},
    )
    plan = plan_merge(core, loans)
    assert plan.changes == {
        "personal.creditStatus": "overdue",
        "personal.creditStatusSource": "贷款系统",
    }


def test_records_that_may_not_be_merged_are_refused() -> None:
    a = _side(1, set())
    with pytest.raises(CannotMerge):
        plan_merge(a, a)
    with pytest.raises(MergeErased):
        plan_merge(a, _side(2, set(), erased=True))
    with pytest.raises(CannotMerge):
        plan_merge(a, _side(3, set(), kind="corporate"))
    merged = MergeSide(4, "personal", OLD, OLD, frozenset(), None, {}, merged_into=9)
    with pytest.raises(AlreadyMerged):
        plan_merge(a, merged)


def test_the_stricter_state_and_the_more_restrictive_consent_win() -> None:
    assert stricter(S.NORMAL, S.DOUBTFUL) is S.DOUBTFUL
    assert stricter(S.EXIT, S.WATCH) is S.EXIT
    survivor = {("marketing", "all"): True, ("profiling", "all"): False}
    merged = {
        ("marketing", "all"): False,  # a refusal wins over a grant
        ("marketing", "sms"): False,  # a refusal the survivor never gave
        ("profiling", "all"): True,  # a grant never carries over
        ("data_sharing", "all"): True,
    }
    assert restrictive_consents(survivor, merged) == [("marketing", "all"), ("marketing", "sms")]


def test_auto_merge_is_off_unless_configured_and_never_below_review() -> None:
    assert AutoMerge.parse("", 0.8).thresholds == {}
    policy = AutoMerge.parse("crm=0.999, cards=0.99", 0.8)
    assert policy.threshold_for(frozenset({"core_banking", "cards"})) == 0.99
    assert policy.threshold_for(frozenset({"core_banking"})) is None
    for bad in ("crm", "crm=0.5", "crm=1.5", "=0.99", "crm=x"):
        with pytest.raises(ValueError, match="system=threshold"):
            AutoMerge.parse(bad, 0.8)
