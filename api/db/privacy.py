"""Consents and erasure on PostgreSQL. Each write is one transaction: all of it or none."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import cast

import orjson
from sqlalchemy import BigInteger, Table, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.completeness import refresh_completeness
from api.db.rows import consent_from_row
from api.db.tables import (
    Base,
    ConsentRow,
    ContactPointRow,
    CustomerChangeRow,
    CustomerRow,
    IdentityDocumentRow,
    InteractionRow,
    LegalHoldRow,
    OwnershipClaimRow,
    RmAssignmentRow,
    StateChangeProposalRow,
    StateChangeRow,
    TaskRow,
)
from domain.privacy.consents import Consent, ConsentChannel, ConsentPurpose
from domain.privacy.erasure import DataCategory, ErasureIncomplete, ErasureSubject, LegalHold

log = logging.getLogger(__name__)

ERASED_NAME = "已删除客户"  # "erased customer": the row stays for the bank's books
# The profile columns an erasure clears (besides the name), in a merge's snapshots too.
_PROFILE_COLUMNS = (
    "gender",
    "birth_date",
    "occupation",
    "employer",
    "income_band",
    "asset_band",
    "credit_status",
    "preferred_channel",
    "preferred_language",
)
ERASED_TEXT = "[已删除]"  # "[erased]", where a column must hold some text

# Free text written about a customer, by hand or from a form, outside the customer row: the
# INTERACTIONS category. A column that must hold text gets ERASED_TEXT, the others null.
FREE_TEXT: tuple[tuple[type[Base], tuple[str, ...]], ...] = (
    (InteractionRow, ("summary",)),
    (TaskRow, ("title", "result")),
    (StateChangeRow, ("note",)),
    (StateChangeProposalRow, ("note", "decision_note")),
    (RmAssignmentRow, ("reason",)),
    (OwnershipClaimRow, ("note",)),
    (CustomerChangeRow, ("reason",)),
)


class SqlConsentBook:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def current(self, customer_ids: Sequence[int]) -> Mapping[int, Sequence[Consent]]:
        c = ConsentRow.__table__.c
        stmt = (
            select(ConsentRow)
            .where(c.customer_id == func.any(literal(list(customer_ids), ARRAY(BigInteger))))
            .ext(distinct_on(c.customer_id, c.purpose, c.channel))
            .order_by(c.customer_id, c.purpose, c.channel, c.version.desc())
        )
        out: dict[int, list[Consent]] = defaultdict(list)
        async with self._engine.connect() as conn:
            for row in (await conn.execute(stmt)).all():
                out[row.customer_id].append(consent_from_row(row))
        return out

    async def record(
        self,
        customer_id: int,
        purpose: ConsentPurpose,
        channel: ConsentChannel,
        granted: bool,
        source: str,
        actor: str,
    ) -> Consent:
        c = ConsentRow.__table__.c
        async with self._engine.begin() as conn:
            # Serialize versions per customer: two changes at once get versions n and n+1,
            # never the same number twice (the unique index is the backstop).
            await conn.execute(
                select(CustomerRow.id).where(CustomerRow.id == customer_id).with_for_update()
            )
            latest = await conn.scalar(
                select(func.max(c.version)).where(
                    c.customer_id == customer_id,
                    c.purpose == purpose.value,
                    c.channel == channel.value,
                )
            )
            row = (
                await conn.execute(
                    insert(ConsentRow)
                    .values(
                        customer_id=customer_id,
                        purpose=purpose.value,
                        channel=channel.value,
                        granted=granted,
                        version=(latest or 0) + 1,
                        recorded_at=datetime.now(UTC),
                        source=source,
                        actor=actor,
                    )
                    .returning(ConsentRow)
                )
            ).one()
        return consent_from_row(row)


class SqlPrivacyStore:
    def __init__(
        self,
        engine: AsyncEngine,
        forget_copies: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._engine = engine
        # Removes the customer's copies outside the database (the response cache).
        self._forget_copies = forget_copies

    async def subject(self, customer_id: int) -> ErasureSubject | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(CustomerRow.id, CustomerRow.kind, CustomerRow.erased_at).where(
                        CustomerRow.id == customer_id
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return ErasureSubject(row.id, row.kind == "personal", row.erased_at)

    async def holds(self, customer_id: int) -> Sequence[LegalHold]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(LegalHoldRow)
                    .where(LegalHoldRow.customer_id == customer_id)
                    .order_by(LegalHoldRow.id)
                )
            ).all()
        return [
            LegalHold(
                id=r.id,
                customer_id=r.customer_id,
                category=None if r.category is None else DataCategory(r.category),
                reason=r.reason,
                until=r.until,
            )
            for r in rows
        ]

    async def erase(self, customer_id: int, categories: Sequence[DataCategory]) -> None:
        async with self._engine.begin() as conn:
            # Records merged into the customer are the same person: erased with them.
            merged = await conn.scalars(
                select(CustomerRow.id).where(CustomerRow.merged_into_id == customer_id)
            )
            ids = [customer_id, *merged]
            if DataCategory.PROFILE in categories:
                await conn.execute(
                    update(CustomerRow)
                    .where(CustomerRow.id.in_(ids))
                    .values(
                        display_name=ERASED_NAME,
                        **dict.fromkeys(_PROFILE_COLUMNS),
                        erased_at=func.coalesce(CustomerRow.erased_at, func.now()),
                        updated_at=func.now(),
                    )
                )
            else:
                await conn.execute(
                    update(CustomerRow)
                    .where(CustomerRow.id.in_(ids))
                    .values(erased_at=func.coalesce(CustomerRow.erased_at, func.now()))
                )
            if DataCategory.CONTACT_POINTS in categories:
                await conn.execute(
                    delete(ContactPointRow).where(ContactPointRow.customer_id.in_(ids))
                )
            if DataCategory.DOCUMENTS in categories:
                await conn.execute(
                    delete(IdentityDocumentRow).where(IdentityDocumentRow.customer_id.in_(ids))
                )
            # The change history keeps old and new values of the erased categories' fields.
            await conn.execute(
                update(CustomerChangeRow)
                .where(
                    CustomerChangeRow.customer_id.in_(ids),
                    CustomerChangeRow.category.in_([c.value for c in categories]),
                )
                .values(old_value=None, new_value=None)
            )
            await refresh_completeness(conn, ids)
            # What identity resolution keeps of them: blocking keys hold name sounds, phones
            # and e-mails; a merge's snapshots hold the profile as it was.
            await conn.execute(
                text("DELETE FROM customer_match_keys WHERE customer_id = ANY(:ids)"), {"ids": ids}
            )
            if DataCategory.PROFILE in categories:
                erased = orjson.dumps(
                    {**dict.fromkeys(_PROFILE_COLUMNS), "display_name": ERASED_NAME}
                )
                for side in ("survivor", "merged"):
                    await conn.execute(
                        text(
                            f"UPDATE customer_merges SET {side}_before = {side}_before || "
                            f"CAST(:erased AS jsonb) WHERE {side}_id = ANY(:ids)"
                        ),
                        {"erased": erased.decode(), "ids": ids},
                    )
            if DataCategory.INTERACTIONS in categories:
                for row, names in FREE_TEXT:
                    table = cast(Table, row.__table__)
                    await conn.execute(
                        update(table)
                        .where(table.c.customer_id.in_(ids))
                        .values(
                            {
                                name: None if table.c[name].nullable else ERASED_TEXT
                                for name in names
                            }
                        )
                    )
        if self._forget_copies is not None:
            try:
                await self._forget_copies(customer_id)
            except Exception as exc:
                log.exception("erased customer %s: cached copies could not be removed", customer_id)
                raise ErasureIncomplete from exc

    async def place_hold(
        self,
        customer_id: int,
        category: DataCategory | None,
        reason: str,
        until: date,
        placed_by: str,
    ) -> LegalHold:
        async with self._engine.begin() as conn:
            hold_id = await conn.scalar(
                insert(LegalHoldRow)
                .values(
                    customer_id=customer_id,
                    category=None if category is None else category.value,
                    reason=reason,
                    until=until,
                    placed_by=placed_by,
                )
                .returning(LegalHoldRow.id)
            )
        assert hold_id is not None
        return LegalHold(hold_id, customer_id, category, reason, until)
