"""The registered profiles (the call-center profile, the mobile self-view), answered from one
snapshot without the executor.

For these registered operations everything the profile shows is read in one SQL statement
(api/db/profile_reader.py `profile_snapshot`) and the fixed selection is walked over the same
schema objects the resolvers build: `Customer.from_domain(customer, view)` for the customer's
own fields and, for each profile part, the same `Customer.shown_*` method its resolver calls
(schema/customers/profile_parts.py). The row rule, masking and read audit stay where they are;
only the walking is ours: GraphQL execution in Python costs tens of microseconds a field, and
the profile has hundreds. Anything the walker does not know makes it give up, and the request
is executed as usual. tests/e2e/test_fast_path.py compares the answers and audit rows with plain
execution for many customers and every role. The HTTP side (rate limit, cache, audit write) is
api/http/profile_lane.py.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any, cast

from graphql import (
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    parse,
)
from strawberry.types import ExecutionResult
from strawberry.types.base import StrawberryObjectDefinition

from domain.access.principal import Role
from domain.errors import DomainError
from domain.ids import decode_typed_id
from domain.profile import ProfileSnapshot
from schema import schema as strawberry_schema
from schema.core.access import ROOT_PERMISSIONS, visible_in
from schema.core.audit_fields import personal_fields
from schema.core.context import Context
from schema.core.persisted import registry
from schema.customers.profile_parts import PROFILE_FIELDS, wanted_parts
from schema.customers.types import Customer

log = logging.getLogger(__name__)


class Unsupported(Exception):
    """The selection asks for something the walker does not render; execute instead."""


@cache
def _fields(definition: StrawberryObjectDefinition) -> dict[str, Any]:
    convert = strawberry_schema.config.name_converter.get_graphql_name
    return {convert(f): f for f in definition.fields}


def _converter(kind: type) -> Callable[[Any], object] | None:
    """How the executor serializes a leaf of this type; None when it is already JSON."""
    if issubclass(kind, enum.Enum):
        return attrgetter("name")
    if issubclass(kind, Decimal):
        return str
    if issubclass(kind, datetime | date):
        return kind.isoformat
    return None


_JSON = frozenset({str, int, float, bool})

# Leaf converters by exact type, looked up once per type: most leaves are str or int.
_CONVERTERS: dict[type, Callable[[Any], object] | None] = {}


# A compiled field of a selection: (response key, where its value comes from, the attribute
# name / resolved name / constant it reads, its sub-selection).
_TYPENAME, _ATTRIBUTE, _RESOLVED = range(3)
_Step = tuple[str, int, str, Sequence[SelectionNode] | None]


def _compile(
    kind: type, selections: Sequence[SelectionNode], resolved: frozenset[str]
) -> tuple[_Step, ...]:
    """The steps that read `selections` from an object of `kind`; fragments that do not apply
    to the type are dropped here, once."""
    definition: StrawberryObjectDefinition | None = getattr(kind, "__strawberry_definition__", None)
    if definition is None:
        raise Unsupported(kind.__name__)
    fields = _fields(definition)
    steps: list[_Step] = []
    for node in selections:
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition
            if condition is None or condition.name.value == definition.name:
                steps.extend(_compile(kind, node.selection_set.selections, resolved))
            continue
        if not isinstance(node, FieldNode) or (node.arguments and node.name.value not in resolved):
            raise Unsupported(getattr(node, "name", node))
        name = node.name.value
        key = node.alias.value if node.alias else name
        sub = node.selection_set.selections if node.selection_set else None
        if name == "__typename":
            steps.append((key, _TYPENAME, definition.name, None))
        elif name in resolved:
            steps.append((key, _RESOLVED, name, sub))
        else:
            field = fields.get(name)
            if field is None or field.base_resolver is not None:
                raise Unsupported(f"{definition.name}.{name}")
            steps.append((key, _ATTRIBUTE, field.python_name, sub))
    return tuple(steps)


class _Walker:
    """The selected fields of schema objects, as the executor would serialize them. Each
    (type, selection) pair is compiled once into steps, so a profile's hundreds of fields cost
    an attribute read each, not a walk over the query document."""

    def __init__(self) -> None:
        # Keyed by the selection's identity: the walker lives as long as the parsed document
        # whose selections it keys on (one per registered text), and its root is always given
        # the same resolver fields, so a plan never depends on more than the key.
        self._plans: dict[tuple[type, int], tuple[_Step, ...]] = {}

    def project(
        self,
        obj: object,
        selections: Sequence[SelectionNode],
        resolved: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """`resolved` holds the values of resolver fields, computed by the caller."""
        plan = self._plans.get((type(obj), id(selections)))
        if plan is None:
            plan = _compile(type(obj), selections, frozenset(resolved or ()))
            self._plans[(type(obj), id(selections))] = plan
        out: dict[str, object] = {}
        for key, source, name, sub in plan:
            if source == _ATTRIBUTE:
                value = getattr(obj, name)
            elif source == _RESOLVED:
                value = resolved[name] if resolved is not None else None
            else:
                out[key] = name
                continue
            # Most leaves are already JSON (str, int): no call for them.
            if value is None or (sub is None and type(value) in _JSON):
                out[key] = value
            else:
                out[key] = self._value(value, sub)
        return out

    def _value(self, value: object, sub: Sequence[SelectionNode] | None) -> object:
        kind = type(value)
        if kind is list or kind is tuple:
            return [None if v is None else self._value(v, sub) for v in cast(list[object], value)]
        if sub is not None:
            return self.project(value, sub)
        try:
            convert = _CONVERTERS[kind]
        except KeyError:
            convert = _CONVERTERS[kind] = _converter(kind)
        return value if convert is None else convert(value)


# Registered operations answered from one snapshot: the call-center profile of any customer
# (`customer(id: $id)`) and the mobile self-view of the signed-in customer (`me`).
LANE_OPERATIONS = ("call_center_profile", "self_view")


def _named_fields(
    selections: Sequence[SelectionNode],
) -> Iterator[tuple[str, Mapping[str, object]]]:
    """A registered text's fields as (name, literal arguments), inline fragments flattened (a
    registered text passes its page sizes as literals)."""
    for node in selections:
        if isinstance(node, InlineFragmentNode):
            yield from _named_fields(node.selection_set.selections)
        elif isinstance(node, FieldNode):
            yield (
                node.name.value,
                {
                    argument.name.value: getattr(argument.value, "value", None)
                    for argument in node.arguments or ()
                },
            )


class RegisteredProfile:
    """One registered profile operation, parsed once: what it asks and how it is walked."""

    def __init__(self, name: str, query: str) -> None:
        document = parse(query)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        [root] = operation.selection_set.selections
        if not isinstance(root, FieldNode) or root.name.value not in ("customer", "me"):
            raise ValueError("a registered profile selects customer(id: $id) or me")
        self.name = name
        self.query = query
        self.root_field = root.name.value  # "customer" or "me"
        self.root = root.alias.value if root.alias else root.name.value
        self.operation_name = None if operation.name is None else operation.name.value
        self.selection = root.selection_set.selections if root.selection_set else ()
        # The parts the snapshot reads, and its timeline page: interactions(first: N).
        self.parts, self.timeline_first = wanted_parts(_named_fields(self.selection))
        self.personal = personal_fields(strawberry_schema._schema, document, query)
        self._walker = _Walker()

    def customer_of(self, variables: dict[str, Any] | None, context: Context) -> int | None:
        """The customer the operation is about, when the caller may ask at all."""
        principal = context.principal
        if self.root_field == "me":
            return principal.customer_id if principal.role is Role.CUSTOMER else None
        if principal.role not in ROOT_PERMISSIONS["customer"]:
            return None  # refused before anything is read
        raw = (variables or {}).get("id")
        if not isinstance(raw, str):
            return None
        try:
            return decode_typed_id(raw, "Customer")
        except DomainError:
            return None  # the resolver answers the typed error

    async def render(
        self, context: Context, snapshot: ProfileSnapshot, customer_id: int
    ) -> dict[str, object] | None:
        """The answer's `data`, or None when the executor must answer (no such customer, a
        denied one, or a selection the walker does not know)."""
        customer = snapshot.customer
        if customer is None or customer.id != customer_id or customer.merged_into_id is not None:
            return None  # a merged id answers its survivor: the executor redirects
        view = await visible_in(context, customer)
        if view is None:
            return None
        context.audit.operation = self.operation_name
        context.audit.selected = self.personal
        shown = Customer.from_domain(customer, view)
        wanted = {n.name.value for n in _field_nodes(self.selection)}
        try:
            resolved = {
                name: field.render(shown, snapshot)
                for name, field in PROFILE_FIELDS.items()
                if name in wanted
            }
            return {self.root: self._walker.project(shown, self.selection, resolved)}
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


def registered_profiles() -> dict[str, RegisteredProfile]:
    """Registered query text → its profile lane."""
    return {
        operation.query: RegisteredProfile(operation.name, operation.query)
        for operation in registry().values()
        if operation.name in LANE_OPERATIONS
    }


def cacheable(result: ExecutionResult, context: Context) -> bool:
    """An answer worth keeping: data shown to the caller, no error, nobody denied."""
    audit = context.audit
    return not result.errors and result.data is not None and bool(audit.seen) and not audit.denied
