"""The registered call-center profile rendered straight from its snapshot, without the executor.

GraphQL execution in Python costs tens of microseconds a field; the profile has hundreds. For
the registered operation the selection is fixed, so this module walks it once per request over
the same schema objects the resolvers build — `Customer.from_domain(customer, view)` and its
kin, which apply the field policies — reading values where the executor would call the same
thin resolvers (a loader read, then `from_domain`). The rules (row rule, masking, read audit)
stay where they are; only the walking is ours. tests/e2e/test_fast_path.py requires identical
answers and audit rows to plain execution for many customers and every role; anything this
walker does not know makes it give up, and the request is executed as usual.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

from graphql import FieldNode, InlineFragmentNode, OperationDefinitionNode, SelectionNode, parse
from strawberry.types.base import StrawberryObjectDefinition

from api.db.profile_reader import ProfileSnapshot
from domain.products import summarize_holdings
from schema import schema as strawberry_schema
from schema.access import visible
from schema.audit_fields import personal_fields
from schema.context import Context, Info
from schema.customers.types import ContactPoint, Customer, IdentityDocument, interaction_connection
from schema.organisation.types import Branch, RelationshipManager
from schema.privacy import Consent
from schema.products.types import HoldingPortfolio
from schema.relationships.types import relationship_from
from schema.tasks import Task

log = logging.getLogger(__name__)


class Unsupported(Exception):
    """The selection asks for something the walker does not render; execute instead."""


@cache
def _fields(definition: StrawberryObjectDefinition) -> dict[str, Any]:
    convert = strawberry_schema.config.name_converter.get_graphql_name
    return {convert(f): f for f in definition.fields}


def _leaf(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _value(value: object, selection: Sequence[SelectionNode] | None) -> object:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [_value(v, selection) for v in value]
    if selection is None:
        return _leaf(value)
    return project(value, selection)


def project(
    obj: object,
    selections: Sequence[SelectionNode],
    resolved: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The selected fields of a schema object, as the executor would serialize them.
    `resolved` holds the values of resolver fields, computed by the caller."""
    definition: StrawberryObjectDefinition | None = getattr(obj, "__strawberry_definition__", None)
    if definition is None:
        raise Unsupported(type(obj).__name__)
    fields = _fields(definition)
    out: dict[str, object] = {}
    for node in selections:
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition
            if condition is None or condition.name.value == definition.name:
                out.update(project(obj, node.selection_set.selections, resolved))
            continue
        if not isinstance(node, FieldNode) or (
            node.arguments and (resolved is None or node.name.value not in resolved)
        ):
            raise Unsupported(getattr(node, "name", node))
        name = node.name.value
        key = node.alias.value if node.alias else name
        if name == "__typename":
            out[key] = definition.name
            continue
        if resolved is not None and name in resolved:
            value = resolved[name]
        else:
            field = fields.get(name)
            if field is None or field.base_resolver is not None:
                raise Unsupported(f"{definition.name}.{name}")
            value = getattr(obj, field.python_name)
        sub = node.selection_set.selections if node.selection_set else None
        out[key] = _value(value, sub)
    return out


class RegisteredProfile:
    """One registered profile text, parsed once."""

    def __init__(self, query: str) -> None:
        document = parse(query)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        [root] = operation.selection_set.selections
        if not isinstance(root, FieldNode) or root.name.value not in ("customer", "me"):
            raise ValueError("a registered profile selects customer(id: $id) or me")
        self.query = query
        self.root = root.alias.value if root.alias else root.name.value
        self.operation_name = None if operation.name is None else operation.name.value
        self.selection = root.selection_set.selections if root.selection_set else ()
        self.personal = personal_fields(strawberry_schema._schema, document, query)

    async def render(
        self, context: Context, snapshot: ProfileSnapshot, customer_id: int
    ) -> dict[str, object] | None:
        """The answer's `data`, or None when the executor must answer (no such customer, a
        denied one, or a selection the walker does not know)."""
        customer = snapshot.customer
        if customer is None or customer.id != customer_id:
            return None
        info = cast(Info, SimpleNamespace(context=context))
        view = await visible(info, customer)
        if view is None:
            return None
        context.audit.operation = self.operation_name
        context.audit.selected = self.personal
        shown = Customer.from_domain(customer, view)
        holdings = list(snapshot.holdings)
        later: dict[str, Callable[[], object]] = {
            "contactPoints": lambda: [
                ContactPoint.from_domain(p, view) for p in snapshot.contact_points
            ],
            "documents": lambda: [
                IdentityDocument.from_domain(d, view) for d in snapshot.documents
            ],
            "homeBranch": lambda: (
                None
                if customer.home_branch_id is None or snapshot.branch is None
                else Branch.from_domain(snapshot.branch)
            ),
            "relationshipManager": lambda: (
                None
                if customer.relationship_manager_id is None or snapshot.manager is None
                else RelationshipManager.from_domain(snapshot.manager)
            ),
            "relationship": lambda: (
                relationship_from(
                    customer.id,
                    snapshot.relationship,
                    snapshot.pending_proposal,
                    customer.created_at,
                )
                if view.shows("Customer", "relationship")
                else None
            ),
            "holdings": lambda: HoldingPortfolio.build(
                holdings, summarize_holdings(holdings), view, include_closed=False
            ),
            "interactions": lambda: interaction_connection(snapshot.timeline, view),
            "openTasks": lambda: [Task.from_domain(t) for t in snapshot.open_tasks],
            "consents": lambda: [
                Consent.from_domain(c, show_actor=view.shows("Consent", "actor"))
                for c in snapshot.consents
            ],
        }
        wanted = {n.name.value for n in _field_nodes(self.selection)}
        try:
            resolved = {name: make() for name, make in later.items() if name in wanted}
            return {self.root: project(shown, self.selection, resolved)}
        except Unsupported as exc:
            log.warning("the profile walker does not render %s; executing instead", exc)
            return None


def _field_nodes(selections: Sequence[SelectionNode]) -> list[FieldNode]:
    found: list[FieldNode] = []
    for node in selections:
        if isinstance(node, FieldNode):
            found.append(node)
        elif isinstance(node, InlineFragmentNode):
            found.extend(_field_nodes(node.selection_set.selections))
    return found
