"""SqlProfileReader: the ProfileReader port on PostgreSQL, one statement per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    LargeBinary,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.branch_sql import branches_below
from api.db.document_crypto import DocumentCrypto
from api.db.engine import autocommit
from api.db.rows import (
    branch_from_row,
    contact_point_from_row,
    customer_from_row,
    document_from_row,
    holding_from_row,
    interaction_from_row,
    manager_from_row,
    product_from_row,
    proposal_from_row,
    relationship_from_row,
    state_change_from_row,
    task_from_row,
)
from api.db.tables import (
    BranchRow,
    ConsentRow,
    ContactPointRow,
    CorporateContactRow,
    CustomerRow,
    FundMovementRow,
    HoldingRow,
    IdentityDocumentRow,
    InteractionRow,
    ProductRow,
    RelationshipManagerRow,
    RelationshipStateRow,
    StateChangeProposalRow,
    StateChangeRow,
    TaskRow,
)
from domain.customers.model import (
    ContactKind,
    ContactPoint,
    CorporateContact,
    Customer,
    DocumentType,
    IdentityDocument,
)
from domain.fund_movements import (
    CounterpartyKind,
    FundMovement,
    MovementDirection,
    MovementFilter,
)
from domain.interactions import (
    Channel,
    ChannelUse,
    Interaction,
    TimelineFilter,
    TimelinePage,
    TimelineRequest,
)
from domain.organisation import Branch, RelationshipManager
from domain.ports import DocumentKey
from domain.products import Holding, HoldingStatus, Product
from domain.relationships import (
    Proposal,
    ProposalFilter,
    ProposalStatus,
    Relationship,
    StateChange,
)
from domain.search import CustomerPage, SearchTerms
from domain.tasks import Task, TaskOwner, TaskStatus

customers = CustomerRow.__table__
contact_points = ContactPointRow.__table__
documents = IdentityDocumentRow.__table__

# Search is one fixed statement whatever the text means (code, name, phone, documents): built
# once, it costs no statement building per request (a union assembled per search spent about a
# third of the search's CPU in SQLAlchemy). A term that does not apply is NULL or an empty
# array and matches nothing; the name branch is gated so no trigram scan runs for a NULL pattern.
_SEARCH = (
    text(
        f"""
        SELECT customers.* FROM customers
        WHERE customers.id IN (
            SELECT id FROM customers WHERE code = :code
            UNION ALL
            SELECT id FROM customers
            WHERE CAST(:pattern AS text) IS NOT NULL AND display_name ILIKE :pattern
            UNION ALL
            SELECT id FROM customers
            WHERE CAST(:pinyin AS text) IS NOT NULL AND name_pinyin LIKE :pinyin
            UNION ALL
            SELECT n.id FROM customers n
            WHERE CAST(:last4 AS text) IS NOT NULL AND n.display_name ILIKE :name_part
              AND EXISTS (SELECT 1 FROM contact_points cp WHERE cp.customer_id = n.id
                          AND cp.kind = '{ContactKind.PHONE.value}' AND right(cp.value, 4) = :last4)
            UNION ALL
            SELECT unnest(CAST(:suffix_ids AS bigint[]))
            UNION ALL
            SELECT customer_id FROM contact_points
            WHERE kind = '{ContactKind.PHONE.value}' AND value = :phone
            UNION ALL
            SELECT d.customer_id
            FROM unnest(CAST(:doc_types AS text[]), CAST(:doc_hashes AS bytea[])) AS k(type, hash)
            JOIN identity_documents d ON d.type = k.type AND d.number_hmac = k.hash
        )
        AND customers.id > :after AND customers.merged_into_id IS NULL
        ORDER BY customers.id
        LIMIT :limit
        """
    )
    .bindparams(
        bindparam("doc_types", type_=ARRAY(String)),
        bindparam("doc_hashes", type_=ARRAY(LargeBinary)),
        bindparam("suffix_ids", type_=ARRAY(BigInteger)),
    )
    .columns(*customers.c)
)


def _contains(text: str | None) -> str | None:
    """An ILIKE pattern for text anywhere, its wildcards escaped; None for no text."""
    if text is None:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The identity documents of an RM's book, to compare a number's end with (issue 23): the
# numbers are sealed, so the comparison is the service's, within the caller's own customers.
_PORTFOLIO_DOCUMENTS = text(
    "SELECT d.customer_id, d.type, d.number_key_id, d.number_ciphertext "
    "FROM identity_documents d JOIN customers c ON c.id = d.customer_id "
    "WHERE c.relationship_manager_id = :rm AND c.merged_into_id IS NULL"
)
corporate_contacts = CorporateContactRow.__table__
branches = BranchRow.__table__
managers = RelationshipManagerRow.__table__
products = ProductRow.__table__
holdings = HoldingRow.__table__
interactions = InteractionRow.__table__
states = RelationshipStateRow.__table__
state_changes = StateChangeRow.__table__


def _filter_conditions(wanted: TimelineFilter) -> list[Any]:
    c = interactions.c
    conditions: list[Any] = []
    if wanted.channels:
        conditions.append(c.channel.in_(sorted(ch.value for ch in wanted.channels)))
    if wanted.kinds:
        conditions.append(c.kind.in_(sorted(k.value for k in wanted.kinds)))
    if wanted.since is not None:
        conditions.append(c.occurred_at >= wanted.since)
    if wanted.until is not None:
        conditions.append(c.occurred_at < wanted.until)
    if wanted.staff_code is not None:
        conditions.append(c.staff_code == wanted.staff_code)
    if wanted.branch_id is not None:
        conditions.append(c.branch_id == wanted.branch_id)
    return conditions


# The batch key of every static read: one array parameter, bound at execution.
IDS = bindparam("ids", type_=ARRAY(BigInteger))
_STATEMENTS: dict[str, Select[Any]] = {}


def _static(name: str, build: Callable[[], Select[Any]]) -> Select[Any]:
    """Build a read's statement once per process: no Select construction, cache-key
    generation or result-metadata work per request, only parameters change."""
    stmt = _STATEMENTS.get(name)
    if stmt is None:
        stmt = _STATEMENTS[name] = build()
    return stmt


def _ids(values: Sequence[int]) -> Any:
    # One array parameter instead of N placeholders: one statement shape for every batch size,
    # so asyncpg's prepared-statement cache hits.
    return literal(list(values), ARRAY(BigInteger))


def _customers_by_id() -> Select[Any]:
    asked = customers.alias("asked")
    return (
        select(customers, asked.c.id.label("asked"))
        .select_from(
            asked.join(
                customers, customers.c.id == func.coalesce(asked.c.merged_into_id, asked.c.id)
            )
        )
        .where(asked.c.id == func.any(IDS))
    )


proposals = StateChangeProposalRow.__table__
tasks = TaskRow.__table__
consents = ConsentRow.__table__


class SqlProfileReader:
    """The loaders' batch reads (one statement per kind of row, for every key a request asks
    for). Reads run on an AUTOCOMMIT connection: a read pays for no BEGIN/COMMIT round trips."""

    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto) -> None:
        self._engine = autocommit(engine)
        self._crypto = crypto

    async def _rows(
        self, stmt: Select[Any], ids: Sequence[int] | None = None
    ) -> Sequence[Row[Any]]:
        async with self._engine.connect() as conn:
            result = await conn.execute(stmt, None if ids is None else {"ids": list(ids)})
            rows: Sequence[Row[Any]] = result.all()
            return rows

    async def customers_by_id(self, ids: Sequence[int]) -> Mapping[int, Customer]:
        """By id; a merged record's id answers its survivor."""
        rows = await self._rows(_static("customers_by_id", _customers_by_id), ids)
        return {row.asked: customer_from_row(row) for row in rows}

    async def customer_ids_by_document(
        self, keys: Sequence[DocumentKey]
    ) -> Mapping[DocumentKey, int]:
        # Exact lookup through the keyed hash: the index never sees a clear number.
        by_hash = {h: (t, n) for t, n in keys for h in self._crypto.lookup_hashes(t.value, n)}
        stmt = select(documents.c.type, documents.c.number_hmac, documents.c.customer_id).where(
            tuple_(documents.c.type, documents.c.number_hmac).in_(
                [(t.value, h) for h, (t, _) in by_hash.items()]
            )
        )
        return {by_hash[row.number_hmac]: row.customer_id for row in await self._rows(stmt)}

    async def contact_point_owner(self, contact_point_id: int) -> int | None:
        async with self._engine.connect() as conn:
            owner: int | None = await conn.scalar(
                select(contact_points.c.customer_id).where(contact_points.c.id == contact_point_id)
            )
        return owner

    async def document_owner(self, document_id: int) -> int | None:
        async with self._engine.connect() as conn:
            owner: int | None = await conn.scalar(
                select(documents.c.customer_id).where(documents.c.id == document_id)
            )
        return owner

    async def contact_points_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[ContactPoint]]:
        stmt = _static(
            "contact_points_by_customer",
            lambda: (
                select(contact_points)
                .where(contact_points.c.customer_id == func.any(IDS))
                .order_by(
                    contact_points.c.kind, contact_points.c.is_preferred.desc(), contact_points.c.id
                )
            ),
        )
        out: dict[int, list[ContactPoint]] = defaultdict(list)
        for row in await self._rows(stmt, ids):
            out[row.customer_id].append(contact_point_from_row(row))
        return out

    async def documents_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[IdentityDocument]]:
        stmt = _static(
            "documents_by_customer",
            lambda: (
                select(documents)
                .where(documents.c.customer_id == func.any(IDS))
                .order_by(documents.c.id)
            ),
        )
        out: dict[int, list[IdentityDocument]] = defaultdict(list)
        for row in await self._rows(stmt, ids):
            out[row.customer_id].append(document_from_row(row, self._crypto))
        return out

    async def corporate_contacts_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[CorporateContact]]:
        stmt = _static(
            "corporate_contacts_by_customer",
            lambda: (
                select(corporate_contacts)
                .where(corporate_contacts.c.corporate_id == func.any(IDS))
                .order_by(corporate_contacts.c.role, corporate_contacts.c.person_id)
            ),
        )
        out: dict[int, list[CorporateContact]] = defaultdict(list)
        for row in await self._rows(stmt, ids):
            out[row.corporate_id].append(
                CorporateContact(
                    corporate_id=row.corporate_id, person_id=row.person_id, role=row.role
                )
            )
        return out

    async def subsidiaries_by_parent(self, ids: Sequence[int]) -> Mapping[int, Sequence[Customer]]:
        stmt = _static(
            "subsidiaries_by_parent",
            lambda: (
                select(customers)
                .where(customers.c.parent_id == func.any(IDS))
                .order_by(customers.c.id)
            ),
        )
        out: dict[int, list[Customer]] = defaultdict(list)
        for row in await self._rows(stmt, ids):
            out[row.parent_id].append(customer_from_row(row))
        return out

    async def merged_ids_by_survivor(self, ids: Sequence[int]) -> Mapping[int, Sequence[int]]:
        rows = await self._rows(
            _static(
                "merged_ids_by_survivor",
                lambda: (
                    select(customers.c.merged_into_id, customers.c.id)
                    .where(customers.c.merged_into_id == func.any(IDS))
                    .order_by(customers.c.id)
                ),
            ),
            ids,
        )
        found: dict[int, list[int]] = {}
        for row in rows:
            found.setdefault(row.merged_into_id, []).append(row.id)
        return found

    async def products_by_id(self, ids: Sequence[int]) -> Mapping[int, Product]:
        rows = await self._rows(
            _static(
                "products_by_id", lambda: select(products).where(products.c.id == func.any(IDS))
            ),
            ids,
        )
        return {
            row.id: product_from_row(row, row.id, row.code, row.name, row.currency, row.retired_at)
            for row in rows
        }

    async def branches_by_id(self, ids: Sequence[int]) -> Mapping[int, Branch]:
        rows = await self._rows(
            _static(
                "branches_by_id", lambda: select(branches).where(branches.c.id == func.any(IDS))
            ),
            ids,
        )
        return {row.id: branch_from_row(row) for row in rows}

    async def relationship_managers_by_id(
        self, ids: Sequence[int]
    ) -> Mapping[int, RelationshipManager]:
        rows = await self._rows(
            _static(
                "relationship_managers_by_id",
                lambda: select(managers).where(managers.c.id == func.any(IDS)),
            ),
            ids,
        )
        return {row.id: manager_from_row(row) for row in rows}

    async def relationships_by_customer(self, ids: Sequence[int]) -> Mapping[int, Relationship]:
        rows = await self._rows(
            _static(
                "relationships_by_customer",
                lambda: select(states).where(states.c.customer_id == func.any(IDS)),
            ),
            ids,
        )
        return {row.customer_id: relationship_from_row(row) for row in rows}

    async def state_history_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[StateChange]]:
        stmt = _static(
            "state_history_by_customer",
            lambda: (
                select(state_changes)
                .where(state_changes.c.customer_id == func.any(IDS))
                .order_by(state_changes.c.occurred_at.desc(), state_changes.c.id.desc())
            ),
        )
        out: dict[int, list[StateChange]] = defaultdict(list)
        for row in await self._rows(stmt, ids):
            out[row.customer_id].append(state_change_from_row(row))
        return out

    async def holdings_by_customer(self, ids: Sequence[int]) -> Mapping[int, Sequence[Holding]]:
        stmt = _static(
            "holdings_by_customer",
            lambda: (
                select(
                    holdings,
                    products.c.code.label("product_code"),
                    products.c.name.label("product_name"),
                    products.c.category,
                    products.c.audience,
                    products.c.currency.label("product_currency"),
                )
                .join(products, products.c.id == holdings.c.product_id)
                .where(holdings.c.customer_id == func.any(IDS))
                .order_by(
                    case((holdings.c.status == HoldingStatus.CLOSED.value, 1), else_=0),
                    holdings.c.opened_on,
                    holdings.c.id,
                )
            ),
        )
        out: dict[int, list[Holding]] = defaultdict(list)
        for row in await self._rows(stmt, ids):
            out[row.customer_id].append(holding_from_row(row))
        return out

    async def timeline_pages(self, requests: Sequence[TimelineRequest]) -> Sequence[TimelinePage]:
        # Requests that differ only by customer share one statement: a LATERAL walk of the
        # timeline index per customer, LIMIT first + 1 to learn whether a next page exists.
        groups: dict[tuple[Any, ...], list[TimelineRequest]] = defaultdict(list)
        for request in requests:
            groups[(request.first, request.after, request.filter)].append(request)
        found: dict[tuple[Any, ...], list[Interaction]] = {}
        for (first, after, wanted_filter), members in groups.items():
            wanted = (
                func.unnest(_ids([m.customer_id for m in members]))
                .table_valued("customer_id")
                .render_derived(name="wanted")
            )
            conditions = [interactions.c.customer_id == wanted.c.customer_id]
            if after is not None:
                conditions.append(
                    tuple_(interactions.c.occurred_at, interactions.c.id)
                    < tuple_(
                        func.cast(after.occurred_at, interactions.c.occurred_at.type),
                        func.cast(after.id, BigInteger),
                    )
                )
            conditions.extend(_filter_conditions(wanted_filter))
            page = (
                select(interactions)
                .where(and_(*conditions))
                .order_by(interactions.c.occurred_at.desc(), interactions.c.id.desc())
                .limit(first + 1)
                .lateral("page")
            )
            stmt = select(page).select_from(wanted).join(page, true())
            for row in await self._rows(stmt):
                found.setdefault((first, after, wanted_filter, row.customer_id), []).append(
                    interaction_from_row(row)
                )
        pages = []
        for request in requests:
            rows = found.get(
                (request.first, request.after, request.filter, request.customer_id), []
            )
            pages.append(
                TimelinePage(
                    items=tuple(rows[: request.first]), has_next_page=len(rows) > request.first
                )
            )
        return pages

    async def channel_mix(
        self, keys: Sequence[tuple[int, TimelineFilter]]
    ) -> Mapping[tuple[int, TimelineFilter], Sequence[ChannelUse]]:
        # One statement per distinct period; customers of the same period share it.
        groups: dict[TimelineFilter, list[int]] = defaultdict(list)
        for customer_id, period in keys:
            groups[period].append(customer_id)
        out: dict[tuple[int, TimelineFilter], list[ChannelUse]] = defaultdict(list)
        c = interactions.c
        for period, ids in groups.items():
            stmt = (
                select(
                    c.customer_id,
                    c.channel,
                    func.count().label("n"),
                    func.coalesce(func.sum(c.cost), 0).label("cost"),
                )
                .where(c.customer_id == func.any(_ids(ids)), *_filter_conditions(period))
                .group_by(c.customer_id, c.channel)
                .order_by(c.customer_id, func.count().desc(), c.channel)
            )
            for row in await self._rows(stmt):
                out[(row.customer_id, period)].append(
                    ChannelUse(channel=Channel(row.channel), count=row.n, cost=row.cost)
                )
        return out

    async def interactions_by_id(self, ids: Sequence[int]) -> Mapping[int, Interaction]:
        rows = await self._rows(
            _static(
                "interactions_by_id",
                lambda: select(interactions).where(interactions.c.id == func.any(IDS)),
            ),
            ids,
        )
        return {row.id: interaction_from_row(row) for row in rows}

    async def pending_proposals_by_customer(self, ids: Sequence[int]) -> Mapping[int, Proposal]:
        p = StateChangeProposalRow.__table__.c
        stmt = _static(
            "pending_proposals_by_customer",
            lambda: select(StateChangeProposalRow.__table__).where(
                p.customer_id == func.any(IDS), p.status == ProposalStatus.PENDING.value
            ),
        )
        return {row.customer_id: proposal_from_row(row) for row in await self._rows(stmt, ids)}

    async def proposals_by_id(self, ids: Sequence[int]) -> Mapping[int, Proposal]:
        p = StateChangeProposalRow.__table__.c
        stmt = _static(
            "proposals_by_id",
            lambda: select(StateChangeProposalRow.__table__).where(p.id == func.any(IDS)),
        )
        return {row.id: proposal_from_row(row) for row in await self._rows(stmt, ids)}

    async def fund_movements(
        self, customer_id: int, where: MovementFilter, first: int, after_id: int | None
    ) -> Sequence[FundMovement]:
        m = FundMovementRow.__table__.c
        stmt = select(FundMovementRow.__table__).where(m.customer_id == customer_id)
        if where.since is not None:
            stmt = stmt.where(m.booked_at >= where.since)
        if where.until is not None:
            stmt = stmt.where(m.booked_at < where.until)
        if where.direction is not None:
            stmt = stmt.where(m.direction == where.direction.value)
        if where.min_amount is not None:
            stmt = stmt.where(m.amount >= where.min_amount)
        if where.max_amount is not None:
            stmt = stmt.where(m.amount <= where.max_amount)
        if where.holding_id is not None:
            stmt = stmt.where(m.holding_id == where.holding_id)
        if after_id is not None:
            # Keyset on (booked_at, id) through the cursor's movement (of this customer only).
            anchor = (
                select(m.booked_at)
                .where(m.id == after_id, m.customer_id == customer_id)
                .scalar_subquery()
            )
            stmt = stmt.where(tuple_(m.booked_at, m.id) < tuple_(anchor, after_id))
        rows = await self._rows(stmt.order_by(m.booked_at.desc(), m.id.desc()).limit(first))
        return [
            FundMovement(
                id=r.id,
                customer_id=r.customer_id,
                holding_id=r.holding_id,
                amount=r.amount,
                currency=r.currency,
                direction=MovementDirection(r.direction),
                counterparty_kind=CounterpartyKind(r.counterparty_kind),
                channel=Channel(r.channel),
                booked_at=r.booked_at,
            )
            for r in rows
        ]

    async def pending_proposals(
        self, where: ProposalFilter, first: int, after_id: int | None
    ) -> Sequence[Proposal]:
        p = StateChangeProposalRow.__table__.c
        stmt = select(StateChangeProposalRow.__table__).where(
            p.status == ProposalStatus.PENDING.value, p.proposed_by != where.checker
        )
        if where.branch_id is not None:
            units = branches_below([where.branch_id])
            homed = select(customers.c.id).where(customers.c.home_branch_id.in_(units))
            stmt = stmt.where(p.customer_id.in_(homed))
        if where.to_states:
            stmt = stmt.where(p.to_state.in_(sorted(s.value for s in where.to_states)))
        if where.proposed_before is not None:
            stmt = stmt.where(p.proposed_at < where.proposed_before)
        if where.overdue_at is not None:
            stmt = stmt.where(p.deadline < where.overdue_at)
        if after_id is not None:
            stmt = stmt.where(p.id > after_id)
        rows = await self._rows(stmt.order_by(p.id).limit(first))
        return [proposal_from_row(row) for row in rows]

    async def open_tasks_by_customer(self, ids: Sequence[int]) -> Mapping[int, Sequence[Task]]:
        t = TaskRow.__table__.c
        stmt = _static(
            "open_tasks_by_customer",
            lambda: (
                select(TaskRow.__table__)
                .where(t.customer_id == func.any(IDS), t.status == TaskStatus.OPEN.value)
                .order_by(t.due_at, t.id)
            ),
        )
        out: dict[int, list[Task]] = defaultdict(list)
        for row in await self._rows(stmt, ids):
            out[row.customer_id].append(task_from_row(row))
        return out

    async def tasks_by_id(self, ids: Sequence[int]) -> Mapping[int, Task]:
        rows = await self._rows(
            _static(
                "tasks_by_id",
                lambda: select(TaskRow.__table__).where(TaskRow.__table__.c.id == func.any(IDS)),
            ),
            ids,
        )
        return {row.id: task_from_row(row) for row in rows}

    async def tasks_for_owners(
        self,
        owners: Sequence[TaskOwner],
        status: TaskStatus | None,
        overdue_at: datetime | None,
        first: int,
        after_id: int | None,
    ) -> tuple[Sequence[Task], bool]:
        t = TaskRow.__table__.c
        stmt = select(TaskRow.__table__).where(
            or_(*[and_(t.owner_kind == o.kind.value, t.owner_ref == o.ref) for o in owners])
        )
        if status is not None:
            stmt = stmt.where(t.status == status.value)
        if overdue_at is not None:
            stmt = stmt.where(t.status == TaskStatus.OPEN.value, t.due_at < overdue_at)
        if after_id is not None:
            # Keyset on (due_at, id) through the cursor's task.
            anchor = select(t.due_at).where(t.id == after_id).scalar_subquery()
            stmt = stmt.where(tuple_(t.due_at, t.id) > tuple_(anchor, after_id))
        stmt = stmt.order_by(t.due_at, t.id).limit(first + 1)
        rows = await self._rows(stmt)
        return [task_from_row(r) for r in rows[:first]], len(rows) > first

    async def search_customers(
        self,
        terms: SearchTerms | None,
        first: int,
        after: int | None,
        rm_scope: int | None = None,
    ) -> CustomerPage:
        if terms is None:
            stmt = select(customers)
            if after is not None:
                stmt = stmt.where(customers.c.id > after)
            rows = await self._rows(stmt.order_by(customers.c.id).limit(first + 1))
        else:
            async with self._engine.connect() as conn:
                suffix_ids = (
                    await self._ending_with(conn, terms.id_suffix, rm_scope)
                    if terms.id_suffix is not None and rm_scope is not None
                    else []
                )
                result = await conn.execute(
                    _SEARCH, self._search_parameters(terms, first, after, suffix_ids)
                )
                rows = result.all()
        items = tuple(customer_from_row(row) for row in rows[:first])
        return CustomerPage(items=items, has_next_page=len(rows) > first)

    def _hashes(self, doc_type: DocumentType, number: str) -> list[bytes]:
        return self._crypto.lookup_hashes(doc_type.value, number)

    async def _ending_with(self, conn: AsyncConnection, suffix: str, rm: int) -> list[int]:
        """The RM's customers with an identity number ending in `suffix` (opened here)."""
        found = set()
        for d in await conn.execute(_PORTFOLIO_DOCUMENTS, {"rm": rm}):
            number = self._crypto.open(d.type, d.number_key_id, d.number_ciphertext, d.customer_id)
            if number.upper().endswith(suffix):
                found.add(d.customer_id)
        return sorted(found)

    def _search_parameters(
        self, terms: SearchTerms, first: int, after: int | None, suffix_ids: list[int]
    ) -> dict[str, object]:
        return {
            "code": terms.code,
            "pattern": _contains(terms.name),
            "pinyin": None if terms.pinyin is None else f"{terms.pinyin}%",
            "last4": terms.phone_last4,
            "name_part": _contains(terms.name_part),
            "suffix_ids": suffix_ids,
            "phone": terms.phone,
            "doc_types": [t.value for t, n in terms.documents for _ in self._hashes(t, n)],
            "doc_hashes": [h for t, n in terms.documents for h in self._hashes(t, n)],
            "after": after or 0,
            "limit": first + 1,
        }
