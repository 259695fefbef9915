"""Segments and next best products in GraphQL: rules in, counts and members out."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from domain.customers.model import CustomerKind
from domain.errors import DomainError, InvalidInput, RuleViolation
from domain.ids import decode_typed_id, encode_id
from domain.interactions import Channel
from domain.products import ProductCategory
from domain.relationships import RelationshipState
from domain.value.segments import (
    WITNESS_FIELD,
    BalanceMeasure,
    Clause,
    ClauseKind,
    Member,
    SegmentRule,
    describe,
    member_scope,
    publishable_count,
    to_json,
    validate,
)
from domain.value.segments import Segment as SegmentModel
from domain.value.tiers import ValueTier
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    UserFacingError,
)
from schema.core.pagination import (
    Edge,
    PageInfo,
    check_first,
    decode_id_cursor,
    encode_cursor,
    split_page,
)

if TYPE_CHECKING:
    from schema.customers.types import Customer


class SegmentNameTaken(RuleViolation):
    code = "SEGMENT_NAME_TAKEN"


@strawberry.input(description="Products by code, by category, or both (any of them matches).")
class ProductSelectionInput:
    product_codes: list[str] | None = strawberry.field(default=None, description="Codes.")
    categories: list[ProductCategory] | None = strawberry.field(
        default=None, description="Categories."
    )


@strawberry.input(description="A balance range over open holdings (amounts at face value).")
class BalanceRangeInput:
    measure: BalanceMeasure = strawberry.field(description="Deposits, loans or AUM.")
    minimum: Decimal | None = strawberry.field(default=None, description="At least, CNY.")
    maximum: Decimal | None = strawberry.field(default=None, description="At most, CNY.")


@strawberry.input(description="Contacts in a channel over recent days.")
class ChannelUseInput:
    channel: Channel = strawberry.field(description="The channel.")
    min_interactions: int = strawberry.field(description="At least this many contacts.")
    within_days: int = strawberry.field(description="In the last this many days.")


@strawberry.input(description="Money moved in CNY over recent days (fund movements).")
class MoneyFlowInput:
    within_days: int = strawberry.field(description="In the last this many days (1-3660).")
    minimum: Decimal | None = strawberry.field(default=None, description="At least, CNY.")
    maximum: Decimal | None = strawberry.field(default=None, description="At most, CNY.")


@strawberry.input(description="An age band in whole years (personal customers).")
class AgeBandInput:
    min_age: int | None = strawberry.field(default=None, description="At least.")
    max_age: int | None = strawberry.field(default=None, description="At most.")


@strawberry.input(description="One condition: set exactly one field.")
class SegmentClauseInput:
    tiers: list[ValueTier] | None = strawberry.field(
        default=None, description="Value tier in the latest scored month is one of these."
    )
    holds: ProductSelectionInput | None = strawberry.field(
        default=None, description="Holds at least one of these products (open holdings)."
    )
    not_holds: ProductSelectionInput | None = strawberry.field(
        default=None, description="Holds none of these products."
    )
    balance: BalanceRangeInput | None = strawberry.field(
        default=None, description="Total balance within a range."
    )
    channel_use: ChannelUseInput | None = strawberry.field(
        default=None, description="Uses a channel at least so often."
    )
    branch_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Home branch is one of these or below them."
    )
    cities: list[str] | None = strawberry.field(
        default=None, description="Home branch is in one of these cities (region)."
    )
    industries: list[str] | None = strawberry.field(
        default=None, description="Industry is one of these (corporate customers)."
    )
    age_band: AgeBandInput | None = strawberry.field(default=None, description="Age band.")
    relationship_states: list[RelationshipState] | None = strawberry.field(
        default=None, description="Relationship state is one of these."
    )
    customer_kinds: list[CustomerKind] | None = strawberry.field(
        default=None, description="Personal or corporate."
    )
    net_inflow: MoneyFlowInput | None = strawberry.field(
        default=None,
        description="Credits less debits in CNY over the last days within a range (negative: "
        "money leaving).",
    )
    largest_movement: MoneyFlowInput | None = strawberry.field(
        default=None, description="The largest single movement (in or out) within a range."
    )


@strawberry.input(description="A segment rule: every clause must hold.")
class SegmentRuleInput:
    clauses: list[SegmentClauseInput] = strawberry.field(description="The conditions, all of them.")


def _clause(given: SegmentClauseInput, at: str) -> Clause:
    set_fields = [name for name, value in vars(given).items() if value is not None]
    if len(set_fields) != 1:
        raise InvalidInput(at, "set exactly one condition in each clause")
    if given.tiers is not None:
        return Clause(ClauseKind.TIER, tiers=tuple(given.tiers))
    for kind, chosen in ((ClauseKind.HOLDS, given.holds), (ClauseKind.NOT_HOLDS, given.not_holds)):
        if chosen is not None:
            return Clause(
                kind,
                product_codes=tuple(c.strip() for c in chosen.product_codes or ()),
                categories=tuple(chosen.categories or ()),
            )
    if given.balance is not None:
        return Clause(
            ClauseKind.BALANCE,
            measure=given.balance.measure,
            minimum=given.balance.minimum,
            maximum=given.balance.maximum,
        )
    if given.channel_use is not None:
        return Clause(
            ClauseKind.CHANNEL_USE,
            channel=given.channel_use.channel,
            min_interactions=given.channel_use.min_interactions,
            within_days=given.channel_use.within_days,
        )
    if given.branch_ids is not None:
        ids = tuple(decode_typed_id(b, "Branch", field=f"{at}.branchIds") for b in given.branch_ids)
        return Clause(ClauseKind.BRANCH, branch_ids=ids)
    if given.cities is not None:
        return Clause(ClauseKind.REGION, cities=tuple(x.strip() for x in given.cities))
    if given.industries is not None:
        return Clause(ClauseKind.INDUSTRY, industries=tuple(x.strip() for x in given.industries))
    if given.age_band is not None:
        return Clause(
            ClauseKind.AGE, min_age=given.age_band.min_age, max_age=given.age_band.max_age
        )
    if given.relationship_states is not None:
        return Clause(ClauseKind.RELATIONSHIP_STATE, states=tuple(given.relationship_states))
    for kind, flow in (
        (ClauseKind.NET_INFLOW, given.net_inflow),
        (ClauseKind.LARGEST_MOVEMENT, given.largest_movement),
    ):
        if flow is not None:
            return Clause(
                kind, within_days=flow.within_days, minimum=flow.minimum, maximum=flow.maximum
            )
    assert given.customer_kinds is not None
    return Clause(ClauseKind.CUSTOMER_KIND, kinds=tuple(given.customer_kinds))


def to_rule(given: SegmentRuleInput) -> SegmentRule:
    rule = SegmentRule(tuple(_clause(c, f"rule.clauses[{n}]") for n, c in enumerate(given.clauses)))
    return validate(rule)


@strawberry.type(description="How many customers a rule matches, before it is saved.")
class SegmentPreview:
    count: int | None = strawberry.field(
        description="Customers matching every clause now; null when 1 to 9 match (a cell that "
        "small could single someone out)."
    )
    conditions: list[str] = strawberry.field(description="The clauses in words.")


@strawberry.type(description="Why a member matches one clause.")
class SegmentReason:
    clause: int = strawberry.field(description="Index of the clause in the rule.")
    condition: str = strawberry.field(description="The clause in words.")
    value: str | None = strawberry.field(
        description="The member's own figure (balance, age, tier…); null where the caller "
        "may not see that data."
    )


@strawberry.type(description="A customer in a segment, and why.")
class SegmentMember:
    reasons: list[SegmentReason] = strawberry.field(description="One per clause.")
    customer: CustomerRef | None = strawberry.field(
        description="The customer as the caller may see them (null where the row rule denies)."
    )


CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers.types")]


@strawberry.type(description="A page of segment members, in customer id order.")
class SegmentMemberConnection:
    edges: list[Edge[SegmentMember]] = strawberry.field(description="This page, with cursors.")
    nodes: list[SegmentMember] = strawberry.field(description="Members on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


async def _member(info: Info, rule: SegmentRule, member: Member) -> SegmentMember:
    from schema.customers.types import load_customer

    customer = await load_customer(info, member.customer_id)
    reasons = []
    for n, (clause, value) in enumerate(zip(rule.clauses, member.values, strict=True)):
        type_name, field = WITNESS_FIELD[clause.kind]
        shown = customer is not None and customer.view.shows(type_name, field)
        if shown and clause.kind is ClauseKind.BRANCH and value is not None:
            value = encode_id("Branch", int(value))
        reasons.append(
            SegmentReason(clause=n, condition=describe(clause), value=value if shown else None)
        )
    return SegmentMember(reasons=reasons, customer=customer)


async def members_page(
    info: Info, rule: SegmentRule, first: int, after: str | None
) -> SegmentMemberConnection:
    try:
        check_first(first)
        after_id = decode_id_cursor(after)
        # Only members the caller may see in full are listed, so neither membership nor a
        # cursor (a member's id) tells them a value they may not see.
        rm_id = member_scope(info.context.principal, rule)
    except DomainError as exc:
        raise UserFacingError(exc) from exc
    found = await info.context.segments.members(rule, first + 1, after_id, rm_id)
    page, page_info = split_page(found, first, lambda m: m.customer_id)
    # Concurrently, so the customer loader reads the whole page in one batch.
    nodes = await asyncio.gather(*(_member(info, rule, m) for m in page))
    return SegmentMemberConnection(
        edges=[
            Edge(cursor=encode_cursor(str(m.customer_id)), node=n)
            for m, n in zip(page, nodes, strict=True)
        ],
        nodes=list(nodes),
        page_info=page_info,
    )


@strawberry.type(description="A saved rule-based segment.")
class Segment:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the segment.")
    name: str = strawberry.field(description="Unique name.")
    description: str | None = strawberry.field(description="What it is for.")
    conditions: list[str] = strawberry.field(description="The clauses in words.")
    rule: JSON = strawberry.field(description="The rule as stored.")
    created_by: str = strawberry.field(description="Who saved it.")
    created_at: datetime = strawberry.field(description="When.")
    model: strawberry.Private[SegmentModel]

    @strawberry.field(
        description="Customers matching it now; null when 1 to 9 match (a cell that small "
        "could single someone out)."
    )
    async def member_count(self, info: Info) -> int | None:
        return publishable_count(await info.context.segments.count(self.model.rule))

    @strawberry.field(
        description="The members, a page at a time, each saying why it matches. Only members "
        "whose clause fields you may see: an RM lists their own portfolio's members where a "
        "clause reads a field they see only for their customers (age, tier); analysts, and "
        "anyone who may see a clause's field of nobody, get FORBIDDEN: counts only."
    )
    async def members(
        self, info: Info, first: int, after: str | None = None
    ) -> SegmentMemberConnection:
        return await members_page(info, self.model.rule, first, after)

    @classmethod
    def from_domain(cls, s: SegmentModel) -> Segment:
        return cls(
            id=strawberry.ID(encode_id("Segment", s.id)),
            name=s.name,
            description=s.description,
            conditions=[describe(c) for c in s.rule.clauses],
            rule=JSON(to_json(s.rule)),
            created_by=s.created_by,
            created_at=s.created_at,
            model=s,
        )


@strawberry.type(description="A page of saved segments.")
class SegmentConnection:
    edges: list[Edge[Segment]] = strawberry.field(description="This page, with cursors.")
    nodes: list[Segment] = strawberry.field(description="Segments on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


CreateSegmentResult = Annotated[
    Segment | InvalidInputError | ForbiddenError | NotFoundError | RuleViolationError,
    strawberry.union("CreateSegmentResult", description="The saved segment, or why not."),
]


DeleteSegmentResult = Annotated[
    Segment | InvalidInputError | ForbiddenError | NotFoundError | RuleViolationError,
    strawberry.union("DeleteSegmentResult", description="The deleted segment, or why not."),
]
