"""Domain enums exposed to GraphQL under their domain names."""

from __future__ import annotations

import strawberry

from domain.assignment import ViolationKind
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    ContactKind,
    CreditStatus,
    CustomerKind,
    DocumentType,
    Gender,
    IncomeBand,
    LifecycleStage,
    LifecycleStatus,
    OwnershipType,
    PreferredChannel,
)
from domain.detection.alerts import AlertStatus
from domain.detection.rules import RuleKind, Severity
from domain.interactions import Channel, InteractionKind, InteractionOutcome
from domain.organisation import BranchKind, ClaimStatus, RmGrade
from domain.products import HoldingStatus, ProductAudience, ProductCategory
from domain.relationships import ProposalStatus, ReasonCode, RelationshipState
from domain.value.segments import BalanceMeasure
from domain.value.tiers import TierRule, Trend, ValueTier

strawberry.enum(CustomerKind, description="Natural person (自然人) or company/institution.")
strawberry.enum(Gender, description="Gender as recorded at onboarding.")
strawberry.enum(IncomeBand, description="Declared monthly income band, CNY.")
strawberry.enum(AssetBand, description="Declared financial assets band, CNY.")
strawberry.enum(CreditStatus, description="Credit standing from the credit bureau check.")
strawberry.enum(OwnershipType, description="Ownership type of an enterprise (产权成分).")
strawberry.enum(BusinessScale, description="Enterprise size class.")
strawberry.enum(LifecycleStage, description="Enterprise life-cycle stage.")
strawberry.enum(
    LifecycleStatus, description="A prospect holds no product yet; the first makes them active."
)
strawberry.enum(PreferredChannel, description="The channel the customer prefers to be served on.")
strawberry.enum(ContactKind, description="Kind of contact point.")
strawberry.enum(DocumentType, description="Kind of identity document.")
strawberry.enum(Channel, description="A channel through which the bank and customer interact.")
strawberry.enum(InteractionKind, description="What an interaction was about.")
strawberry.enum(InteractionOutcome, description="How an interaction ended.")
strawberry.enum(BranchKind, description="Level of an organisational unit.")
strawberry.enum(RmGrade, description="Relationship manager grade, junior to principal.")
strawberry.enum(ProductCategory, description="Product family in the catalog.")
strawberry.enum(ProductAudience, description="Which customers a product is offered to.")
strawberry.enum(HoldingStatus, description="Lifecycle status of a holding.")
strawberry.enum(RelationshipState, description="Relationship classification ladder.")
strawberry.enum(ReasonCode, description="Why a relationship moves on the ladder.")
strawberry.enum(ProposalStatus, description="Where a proposal stands.")
strawberry.enum(RuleKind, description="What a detection rule watches.")
strawberry.enum(Severity, description="How urgent an alert of the rule is.")
strawberry.enum(AlertStatus, description="Where an alert stands.")
strawberry.enum(
    ValueTier, description="Value tier by contribution: negative, low, potential, high."
)
strawberry.enum(TierRule, description="The rule that placed a customer in a value tier.")
strawberry.enum(Trend, description="Contribution compared with the month before.")
strawberry.enum(ViolationKind, description="How a customer's RM assignment breaks the rules.")
strawberry.enum(BalanceMeasure, description="Which balance a segment clause sums.")
strawberry.enum(ClaimStatus, description="Where a branch's claim to own a customer stands.")
