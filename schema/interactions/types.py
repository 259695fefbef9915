"""The cross-channel timeline as GraphQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.access.policy import Visibility
from domain.errors import InvalidInput
from domain.ids import decode_typed_id, encode_id
from domain.interactions import (
    Channel,
    InteractionKind,
    InteractionOutcome,
    TimelineFilter,
    TimelinePosition,
)
from domain.interactions import Interaction as InteractionModel
from schema.core.context import Info
from schema.core.pagination import PageInfo, cursor_key, decode_cursor, encode_cursor
from schema.organisation.types import Branch, load_branch


@strawberry.type(description="One contact between the bank and the customer, on any channel.")
class Interaction:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the interaction.")
    channel: Channel = strawberry.field(description="Where it happened.")
    kind: InteractionKind = strawberry.field(description="What it was about.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    staff_code: str | None = strawberry.field(description="Staff member who served, if any.")
    cost: Decimal | None = strawberry.field(
        description="Recorded cost to serve, CNY; null when none was recorded."
    )
    outcome: InteractionOutcome | None = strawberry.field(description="How it ended.")
    summary: str | None = strawberry.field(description="What was said or done.")
    satisfaction: int | None = strawberry.field(description="Customer rating 1-5, if given.")
    branch_id: strawberry.Private[int | None]
    pk: strawberry.Private[int]
    shows_campaign: strawberry.Private[bool]

    @classmethod
    def from_domain(cls, interaction: InteractionModel, view: Visibility) -> Interaction:
        return cls(
            id=strawberry.ID(encode_id("Interaction", interaction.id)),
            channel=interaction.channel,
            kind=interaction.kind,
            occurred_at=interaction.occurred_at,
            staff_code=interaction.staff_code if view.shows("Interaction", "staffCode") else None,
            cost=interaction.cost if view.shows("Interaction", "cost") else None,
            outcome=interaction.outcome,
            summary=interaction.summary,
            satisfaction=interaction.satisfaction,
            branch_id=interaction.branch_id,
            pk=interaction.id,
            shows_campaign=view.shows("Interaction", "campaign"),
        )

    @strawberry.field(description="Branch or place where it happened, if any.")
    async def branch(self, info: Info) -> Branch | None:
        return await load_branch(info, self.branch_id)

    @strawberry.field(
        description="What was offered (product codes for a campaign contact), in order."
    )
    async def offers(self, info: Info) -> list[str]:
        found = await info.context.loaders.offers_by_interaction.load(self.pk)
        return [] if found is None else list(found.offers)

    @strawberry.field(
        description="The campaign this was a contact of, and its arm; null for other "
        "interactions. Hidden from customers."
    )
    async def campaign(self, info: Info) -> InteractionCampaign | None:
        if not self.shows_campaign:
            return None
        found = await info.context.loaders.offers_by_interaction.load(self.pk)
        if found is None or found.campaign_id is None:
            return None
        return InteractionCampaign(
            campaign_id=strawberry.ID(encode_id("Campaign", found.campaign_id)),
            name=found.campaign_name or "",
            arm=found.arm or "",
        )


@strawberry.type(description="The campaign and arm an interaction was a contact of.")
class InteractionCampaign:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign's global id.")
    name: str = strawberry.field(description="The campaign's name.")
    arm: str = strawberry.field(description="The arm's name.")


@strawberry.type(description="An interaction and its position in the timeline.")
class InteractionEdge:
    cursor: str = strawberry.field(description="Opaque position; page after it with `after`.")
    node: Interaction = strawberry.field(description="The interaction.")


@strawberry.type(description="A page of the timeline, newest first.")
class InteractionConnection:
    edges: list[InteractionEdge] = strawberry.field(description="Interactions on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")

    @strawberry.field(description="This page's interactions, without cursors.")
    def nodes(self) -> list[Interaction]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="How much one channel was used, and what it cost to serve.")
class ChannelUse:
    channel: Channel = strawberry.field(description="The channel.")
    count: int = strawberry.field(description="Interactions on the channel.")
    cost: Decimal | None = strawberry.field(
        description="Sum of recorded costs to serve, CNY (interactions without a recorded "
        "cost count as 0); hidden from customers."
    )


def timeline_filter(
    channels: list[Channel] | None,
    kinds: list[InteractionKind] | None,
    since: datetime | None,
    until: datetime | None,
    staff_code: str | None,
    branch_id: str | None,
) -> TimelineFilter:
    """The timeline arguments as a domain filter; refuses what cannot match anything sane."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(name, "the time needs a time zone")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until", "until must be after since")
    return TimelineFilter(
        channels=frozenset(channels) if channels else None,
        kinds=frozenset(kinds) if kinds else None,
        since=since,
        until=until,
        staff_code=staff_code.strip() if staff_code else None,
        branch_id=None
        if branch_id is None
        else decode_typed_id(branch_id, "Branch", field="branchId"),
    )


def timeline_cursor(interaction: InteractionModel) -> str:
    return encode_cursor(f"{interaction.occurred_at.isoformat()}|{interaction.id}")


def parse_timeline_cursor(cursor: str) -> TimelinePosition:
    raw = decode_cursor(cursor)
    stamp, _, raw_id = raw.partition("|")
    try:
        occurred_at = datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise InvalidInput("after", "not a valid cursor") from exc
    pk = cursor_key(raw_id)
    if occurred_at.tzinfo is None:
        raise InvalidInput("after", "not a valid cursor")
    return TimelinePosition(occurred_at=occurred_at, id=pk)
