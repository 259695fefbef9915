"""The GraphQL schema: types, queries and their descriptions. No SQL, no sessions."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from schema.activity.subscriptions import ActivitySubscriptions
from schema.alerts.mutations import AlertMutations
from schema.alerts.queries import AlertQueries
from schema.audit.queries import AccessQueries
from schema.campaigns.mutations import CampaignMutations
from schema.campaigns.queries import CampaignQueries
from schema.campaigns.runs import CampaignRunMutations, CampaignRunQueries
from schema.core.audit_fields import AuditFieldsExtension
from schema.core.context import Context
from schema.core.error_masking import masked
from schema.core.limits import DevelopmentOperationLimits, OperationLimits
from schema.core.query_cost import RateLimitExtension
from schema.core.read_audit import ReadAudit
from schema.core.read_routing import ReadRouting
from schema.core.text_inputs import TextInputCheck
from schema.counter.mutations import AccessMutations
from schema.customers.documents import DocumentMutations
from schema.customers.mutations import ContactPointMutations, CustomerMutations
from schema.customers.quality import DataQualityQueries
from schema.customers.queries import CustomerQueries
from schema.customers.types import Customer
from schema.customers.updates import CorporateContactMutations, CustomerUpdateMutations
from schema.detection_rules.mutations import DetectionMutations
from schema.detection_rules.queries import DetectionQueries
from schema.identity.mutations import IdentityMutations
from schema.identity.queries import IdentityQueries
from schema.imports.mutations import ImportMutations
from schema.imports.queries import ImportQueries
from schema.node.queries import NodeQueries
from schema.organisation.types import Branch, RelationshipManager
from schema.ownership.mutations import OwnershipMutations
from schema.ownership.queries import OwnershipQueries
from schema.privacy.mutations import PrivacyMutations
from schema.products.types import Product
from schema.recording.mutations import RecordingMutations
from schema.reference.mutations import ReferenceMutations
from schema.reference.queries import ReferenceQueries
from schema.relationships.mutations import RelationshipMutations
from schema.relationships.queries import ApprovalQueries
from schema.reports.groups import GroupQueries
from schema.reports.queries import ReportQueries
from schema.segments.mutations import SegmentMutations
from schema.segments.queries import SegmentQueries
from schema.source_keys.mutations import SourceKeyMutations
from schema.source_keys.queries import SourceKeyQueries
from schema.tasks.mutations import TaskMutations
from schema.tasks.queries import TaskQueries
from schema.value.mutations import ValueMutations
from schema.value.queries import ValueQueries
from schema.value.report import ValueReportQueries
from schema.viewer.queries import ViewerQueries
from schema.webhooks.mutations import WebhookMutations
from schema.webhooks.queries import WebhookQueries


@strawberry.type(description="Read the consolidated customer view.")
class Query(
    CustomerQueries,
    ViewerQueries,
    ApprovalQueries,
    ReportQueries,
    GroupQueries,
    CampaignQueries,
    CampaignRunQueries,
    NodeQueries,
    AccessQueries,
    TaskQueries,
    DetectionQueries,
    AlertQueries,
    WebhookQueries,
    ValueQueries,
    OwnershipQueries,
    ValueReportQueries,
    SegmentQueries,
    SourceKeyQueries,
    DataQualityQueries,
    ReferenceQueries,
    ImportQueries,
    IdentityQueries,
):
    pass


@strawberry.type(description="Change what quanjing knows.")
class Mutation(
    CustomerMutations,
    CampaignMutations,
    CampaignRunMutations,
    CustomerUpdateMutations,
    ContactPointMutations,
    DocumentMutations,
    CorporateContactMutations,
    AccessMutations,
    PrivacyMutations,
    RecordingMutations,
    TaskMutations,
    RelationshipMutations,
    DetectionMutations,
    AlertMutations,
    WebhookMutations,
    ValueMutations,
    OwnershipMutations,
    SegmentMutations,
    SourceKeyMutations,
    ImportMutations,
    IdentityMutations,
    ReferenceMutations,
):
    pass


class QuanjingSchema(strawberry.Schema):
    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        # A subscription lives on the websocket (graphql-transport-ws). Sent as a plain POST,
        # strawberry would run it as a query and fail inside; refused before that instead
        # (the HTTP view answers 400 SUBSCRIPTION_NEEDS_WEBSOCKET).
        allowed = kwargs.get("allowed_operation_types")
        if allowed is not None:
            kwargs["allowed_operation_types"] = set(allowed) - {OperationType.SUBSCRIPTION}
        return await super().execute(*args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry passes every result's error list here, over HTTP and over the websocket,
        # before it is formatted for the client: masking the list in place is what keeps an
        # unexpected error's text out of both. Strawberry's own logging (every error with its
        # traceback, expected ones included) is replaced by one line per unexpected error.
        context = None if execution_context is None else execution_context.context
        correlation_id = getattr(context, "correlation_id", "-")
        outages = getattr(context, "outages", None)
        errors[:] = [masked(error, correlation_id, outages) for error in errors]

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> StreamResult:
        # The websocket transport hands every operation of a connection the same context;
        # each gets its own here (loaders, audit collector, counter-session checks).
        if isinstance(context_value, Context):
            context_value = context_value.for_operation()
        return await super().stream(query, variable_values, context_value, *args, **kwargs)


@strawberry.type(description="Live updates.")
class Subscription(ActivitySubscriptions):
    pass


def build_schema(*, production: bool = False) -> strawberry.Schema:
    # Limits keep one request from taking the service down; production also hides the schema.
    limits: list[type[SchemaExtension]] = [
        OperationLimits if production else DevelopmentOperationLimits
    ]
    if production:
        limits.append(DisableIntrospection)
    return QuanjingSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Customer, Branch, RelationshipManager, Product],
        # Passed as classes: strawberry builds one instance per operation, so no state leaks
        # between requests; the caches themselves are shared module-level LRUs.
        extensions=[
            ParserCache,
            ValidationCache,
            *limits,
            TextInputCheck,  # before the charge: a refused request costs nothing
            RateLimitExtension,
            ReadRouting,  # after the charge: a refused request asks Redis nothing more
            AuditFieldsExtension,
            ReadAudit,
        ],
        config=StrawberryConfig(auto_camel_case=True, disable_field_suggestions=production),
    )


schema = build_schema()
production_schema = build_schema(production=True)
