"""Rule-based segments: clauses over tier, products, balances, channel use, organisation,
industry, age and relationship state, all of which must hold.

A rule is data (saved as JSON), validated here with errors that name the bad clause, and
compiled to one SQL query by the adapter — never evaluated customer by customer in Python.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from domain.access.policy import Visibility
from domain.access.principal import Principal, Role
from domain.customers.model import CustomerKind
from domain.errors import DomainError, InvalidInput
from domain.interactions import Channel
from domain.products import ProductCategory
from domain.relationships import RelationshipState
from domain.value.tiers import ValueTier

MAX_CLAUSES = 20
MAX_VALUES = 200  # codes, cities, industries… in one clause
MAX_NAME = 100


class BalanceMeasure(enum.StrEnum):
    DEPOSITS = "deposits"
    LOANS = "loans"
    ASSETS_UNDER_MANAGEMENT = "assets_under_management"


class ClauseKind(enum.StrEnum):
    TIER = "tier"
    HOLDS = "holds"
    NOT_HOLDS = "not_holds"
    BALANCE = "balance"
    CHANNEL_USE = "channel_use"
    BRANCH = "branch"
    REGION = "region"
    INDUSTRY = "industry"
    AGE = "age"
    RELATIONSHIP_STATE = "relationship_state"
    CUSTOMER_KIND = "customer_kind"
    # Money flows (fund movements in CNY over the last `within_days` days): credits less
    # debits, and the largest single movement either way.
    NET_INFLOW = "net_inflow"
    LARGEST_MOVEMENT = "largest_movement"


@dataclass(frozen=True, slots=True)
class Clause:
    """One condition; which fields matter depends on `kind` (checked by `validate`)."""

    kind: ClauseKind
    tiers: tuple[ValueTier, ...] = ()
    product_codes: tuple[str, ...] = ()
    categories: tuple[ProductCategory, ...] = ()
    measure: BalanceMeasure | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    channel: Channel | None = None
    min_interactions: int | None = None
    within_days: int | None = None
    branch_ids: tuple[int, ...] = ()
    cities: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    states: tuple[RelationshipState, ...] = ()
    kinds: tuple[CustomerKind, ...] = ()


@dataclass(frozen=True, slots=True)
class SegmentRule:
    clauses: tuple[Clause, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    name: str
    description: str | None
    rule: SegmentRule
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberReason:
    clause: int  # index in the rule
    condition: str  # the clause in words
    value: str | None  # the member's own figure (its balance, age, tier…)


@dataclass(frozen=True, slots=True)
class Member:
    customer_id: int
    values: tuple[str | None, ...]  # one witness per clause, in clause order


def _check_values(values: Sequence[object], field: str, what: str) -> None:
    if not values:
        raise InvalidInput(field, f"name at least one {what}")
    if len(values) > MAX_VALUES:
        raise InvalidInput(field, f"at most {MAX_VALUES} {what}s in one clause")


def _check_text(values: Sequence[str], field: str, what: str) -> None:
    _check_values(values, field, what)
    for v in values:
        if not v.strip() or len(v) > 200:
            raise InvalidInput(field, f"a {what} has 1 to 200 characters")


def _range(low: Decimal | int | None, high: Decimal | int | None, field: str) -> None:
    if low is None and high is None:
        raise InvalidInput(field, "give a minimum, a maximum or both")
    if low is not None and high is not None and low > high:
        raise InvalidInput(field, "the minimum is above the maximum")


def _amounts(c: Clause, at: str) -> None:
    for name, value in (("minimum", c.minimum), ("maximum", c.maximum)):
        if value is not None and (not value.is_finite() or abs(value) >= 10**15):
            raise InvalidInput(f"{at}.{name}", "not a usable amount")
    _range(c.minimum, c.maximum, at)


def validate(rule: SegmentRule, field: str = "rule") -> SegmentRule:
    """Check every clause; the error's field names the bad one (rule.clauses[2].maximum)."""
    if not rule.clauses:
        raise InvalidInput(f"{field}.clauses", "a segment needs at least one clause")
    if len(rule.clauses) > MAX_CLAUSES:
        raise InvalidInput(f"{field}.clauses", f"at most {MAX_CLAUSES} clauses")
    for i, c in enumerate(rule.clauses):
        at = f"{field}.clauses[{i}]"
        match c.kind:
            case ClauseKind.TIER:
                _check_values(c.tiers, f"{at}.tiers", "tier")
            case ClauseKind.HOLDS | ClauseKind.NOT_HOLDS:
                if not c.product_codes and not c.categories:
                    raise InvalidInput(at, "name product codes, categories or both")
                if c.product_codes:
                    _check_text(c.product_codes, f"{at}.productCodes", "product code")
                if len(c.categories) > MAX_VALUES:
                    raise InvalidInput(f"{at}.categories", "too many categories")
            case ClauseKind.BALANCE:
                if c.measure is None:
                    raise InvalidInput(f"{at}.measure", "say which balance")
                _amounts(c, at)
            case ClauseKind.NET_INFLOW | ClauseKind.LARGEST_MOVEMENT:
                if c.within_days is None or not 1 <= c.within_days <= 3660:
                    raise InvalidInput(f"{at}.withinDays", "between 1 and 3660 days")
                _amounts(c, at)
            case ClauseKind.CHANNEL_USE:
                if c.channel is None:
                    raise InvalidInput(f"{at}.channel", "say which channel")
                if c.min_interactions is None or not 1 <= c.min_interactions <= 100_000:
                    raise InvalidInput(f"{at}.minInteractions", "between 1 and 100000")
                if c.within_days is None or not 1 <= c.within_days <= 3660:
                    raise InvalidInput(f"{at}.withinDays", "between 1 and 3660 days")
            case ClauseKind.BRANCH:
                _check_values(c.branch_ids, f"{at}.branchIds", "branch")
            case ClauseKind.REGION:
                _check_text(c.cities, f"{at}.cities", "city")
            case ClauseKind.INDUSTRY:
                _check_text(c.industries, f"{at}.industries", "industry")
            case ClauseKind.AGE:
                for name, age in (("minAge", c.min_age), ("maxAge", c.max_age)):
                    if age is not None and not 0 <= age <= 150:
                        raise InvalidInput(f"{at}.{name}", "an age is between 0 and 150")
                _range(c.min_age, c.max_age, at)
            case ClauseKind.RELATIONSHIP_STATE:
                _check_values(c.states, f"{at}.states", "state")
            case ClauseKind.CUSTOMER_KIND:
                _check_values(c.kinds, f"{at}.kinds", "customer kind")
    return rule


def check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME:
        raise InvalidInput("name", f"a segment name has 1 to {MAX_NAME} characters")
    return cleaned


def _between(low: object | None, high: object | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def describe(c: Clause) -> str:
    """The clause in words, for the people who read a segment's members."""

    def names(values: Sequence[enum.Enum | str | int]) -> str:
        return ", ".join(v.value if isinstance(v, enum.Enum) else str(v) for v in values)

    match c.kind:
        case ClauseKind.TIER:
            return f"value tier is {names(c.tiers)} (latest scored month)"
        case ClauseKind.HOLDS | ClauseKind.NOT_HOLDS:
            verb = "holds" if c.kind is ClauseKind.HOLDS else "holds none of"
            return f"{verb} {names([*c.product_codes, *c.categories])}"
        case ClauseKind.BALANCE:
            assert c.measure is not None
            return f"{c.measure.value} {_between(c.minimum, c.maximum)} (open holdings)"
        case ClauseKind.CHANNEL_USE:
            assert c.channel is not None
            return (
                f"at least {c.min_interactions} {c.channel.value} contacts "
                f"in the last {c.within_days} days"
            )
        case ClauseKind.BRANCH:
            return f"home branch is one of {len(c.branch_ids)} branches (or below them)"
        case ClauseKind.REGION:
            return f"home branch is in {names(c.cities)}"
        case ClauseKind.INDUSTRY:
            return f"industry is {names(c.industries)}"
        case ClauseKind.AGE:
            return f"age {_between(c.min_age, c.max_age)}"
        case ClauseKind.RELATIONSHIP_STATE:
            return f"relationship state is {names(c.states)}"
        case ClauseKind.CUSTOMER_KIND:
            return f"customer kind is {names(c.kinds)}"
        case ClauseKind.NET_INFLOW:
            return (
                f"net inflow {_between(c.minimum, c.maximum)} CNY in the last {c.within_days} days"
            )
        case ClauseKind.LARGEST_MOVEMENT:
            return (
                f"largest movement {_between(c.minimum, c.maximum)} CNY "
                f"in the last {c.within_days} days"
            )


def to_json(rule: SegmentRule) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for c in rule.clauses:
        item: dict[str, Any] = {"kind": c.kind.value}
        for name in Clause.__slots__:
            value = getattr(c, name)
            if name == "kind" or value in ((), None):
                continue
            if isinstance(value, tuple):
                item[name] = [v.value if isinstance(v, enum.Enum) else v for v in value]
            elif isinstance(value, enum.Enum):
                item[name] = value.value
            elif isinstance(value, Decimal):
                item[name] = str(value)
            else:
                item[name] = value
        out.append(item)
    return {"clauses": out}


_ENUMS: Mapping[str, type[enum.Enum]] = {
    "tiers": ValueTier,
    "categories": ProductCategory,
    "states": RelationshipState,
    "kinds": CustomerKind,
}


def from_json(data: Mapping[str, Any]) -> SegmentRule:
    clauses = []
    for item in data["clauses"]:
        fields: dict[str, Any] = {"kind": ClauseKind(item["kind"])}
        for name, value in item.items():
            if name == "kind":
                continue
            if name in _ENUMS:
                fields[name] = tuple(_ENUMS[name](v) for v in value)
            elif isinstance(value, list):
                fields[name] = tuple(value)
            elif name == "measure":
                fields[name] = BalanceMeasure(value)
            elif name == "channel":
                fields[name] = Channel(value)
            elif name in ("minimum", "maximum"):
                fields[name] = Decimal(value)
            else:
                fields[name] = value
        clauses.append(Clause(**fields))
    return SegmentRule(tuple(clauses))


# The profile field each kind of clause reads: a member is listed only to a caller who may see
# that field of that customer, or membership itself would tell them the value (an RM who sees
# no birth date could list an age 26–26 segment and learn the exact age).
WITNESS_FIELD: dict[ClauseKind, tuple[str, str]] = {
    ClauseKind.TIER: ("Customer", "value"),
    ClauseKind.HOLDS: ("Customer", "holdings"),
    ClauseKind.NOT_HOLDS: ("Customer", "holdings"),
    ClauseKind.BALANCE: ("Customer", "holdings"),
    ClauseKind.CHANNEL_USE: ("Customer", "channelMix"),
    ClauseKind.BRANCH: ("Customer", "homeBranch"),
    ClauseKind.REGION: ("Customer", "homeBranch"),
    ClauseKind.INDUSTRY: ("Customer", "corporate"),
    ClauseKind.AGE: ("PersonalDetails", "birthDate"),
    ClauseKind.RELATIONSHIP_STATE: ("Customer", "relationship"),
    ClauseKind.CUSTOMER_KIND: ("Customer", "kind"),
    # A member of "net inflow above 1,000,000" is told by that; as a movement's amount is.
    ClauseKind.NET_INFLOW: ("FundMovement", "amount"),
    ClauseKind.LARGEST_MOVEMENT: ("FundMovement", "amount"),
}

# A count this small could single a person out (combined with what the caller knows); it is
# withheld (null), for every caller.
MIN_CELL_SIZE = 10


def publishable_count(count: int) -> int | None:
    """The count as it may be shown: None for a cell of 1 to MIN_CELL_SIZE - 1 customers."""
    return None if 0 < count < MIN_CELL_SIZE else count


class MembersNotVisible(DomainError):
    code = "FORBIDDEN"


def member_scope(principal: Principal, rule: SegmentRule) -> int | None:
    """Whose membership the caller may list: None for every member, an RM id for that RM's
    portfolio only (a clause reads a field the RM sees only for their own customers).
    Raises MembersNotVisible when the caller may list no member: analysts see counts, never
    who; anyone else whose role may not see a clause's field of any customer."""
    if principal.role is Role.ANALYST:
        raise MembersNotVisible("analysts see how many customers a segment holds, not who")
    witnesses = [WITNESS_FIELD[c.kind] for c in rule.clauses]
    if all(Visibility(principal.role, related=False).shows(*w) for w in witnesses):
        return None
    hidden = next(w for w in witnesses if not Visibility(principal.role, related=False).shows(*w))
    if (
        principal.role is Role.RELATIONSHIP_MANAGER
        and principal.rm_id is not None
        and all(Visibility(principal.role, related=True).shows(*w) for w in witnesses)
    ):
        return principal.rm_id
    raise MembersNotVisible(
        f"the rule reads {'.'.join(hidden)}, which your role may not see: its count only"
    )


class SegmentStore(Protocol):
    async def count(self, rule: SegmentRule) -> int: ...

    async def members(
        self, rule: SegmentRule, first: int, after: int | None, rm_id: int | None = None
    ) -> list[Member]:
        """Members in customer id order; with `rm_id`, only that RM's portfolio."""
        ...

    async def save(
        self, name: str, description: str | None, rule: SegmentRule, actor: str
    ) -> Segment | None:
        """None when the name is taken."""
        ...

    async def get(self, segment_id: int) -> Segment | None: ...

    async def list(self, first: int, after: int | None) -> list[Segment]: ...

    async def delete(self, segment_id: int) -> bool: ...
