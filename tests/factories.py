"""Crafted customers for tests, inserted through the same tables the service reads."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.tables import (
    AlertRow,
    BranchRow,
    ContactPointRow,
    CustomerRow,
    HoldingRow,
    IdentityDocumentRow,
    InteractionRow,
    ProductRow,
    RelationshipManagerRow,
    RelationshipStateRow,
    RmAssignmentRow,
    RmTeamMemberRow,
    StateChangeRow,
    TaskRow,
)
from api.ops.seed import resident_id

_counter = itertools.count(1)
CRYPTO: DocumentCrypto | None = None  # set once per session by conftest, from the test keys
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Made:
    id: int
    resident_id: str
    phone: str
    code: str
    raw: dict[str, Any] = field(default_factory=dict)  # a clear profile, where a test needs one
    rm_id: int | None = None


async def make_customer(
    engine: AsyncEngine,
    *,
    name: str = "测试客户",
    interactions: int = 0,
    holdings: int = 2,
    same_timestamp: bool = False,
    complete: bool = False,
) -> Made:
    """A personal customer with a resident ID, a phone, holdings and `interactions` contacts.
    `complete`: every personal detail filled in, an open task with an internal title, an
    acknowledged alert with evidence, and an RM of its own whose portfolio it alone makes up —
    a value wherever an access-control probe looks.

    Birth dates after 2010 keep the ID numbers apart from the seeded bank (born ≤ 2004).
    """
    n = next(_counter)
    birth = date(2010, 1, 1) + timedelta(days=n)
    rid = resident_id("110105", birth, n % 1000)
    phone = f"+86139{70_000_000 + n:08d}"
    code = f"P{900_000_000 + n}"
    async with engine.begin() as conn:
        branch_id = await conn.scalar(select(BranchRow.id).where(BranchRow.kind == "sub_branch"))
        rm_id = await conn.scalar(
            insert(RelationshipManagerRow)
            .values(employee_no=f"T{n:07d}", name=f"测试经理{n}", grade=4, branch_id=branch_id)
            .returning(RelationshipManagerRow.id)
            if complete
            else select(RelationshipManagerRow.id).order_by(RelationshipManagerRow.id)
        )
        cid = await conn.scalar(
            insert(CustomerRow)
            .values(
                code=code,
                kind="personal",
                display_name=name,
                home_branch_id=branch_id,
                relationship_manager_id=rm_id,
                gender="female",
                birth_date=birth,
                credit_status="good",
                **(
                    {
                        "occupation": "工程师",
                        "employer": "北京某科技有限公司",
                        "income_band": "10k_30k",
                        "asset_band": "500k_6m",
                    }
                    if complete
                    else {}
                ),
            )
            .returning(CustomerRow.id)
        )
        assert cid is not None
        assert CRYPTO is not None
        sealed = CRYPTO.seal("resident_id", rid, cid)
        await conn.execute(
            insert(IdentityDocumentRow).values(
                customer_id=cid,
                type="resident_id",
                number_ciphertext=sealed.ciphertext,
                number_key_id=sealed.key_id,
                number_hmac=sealed.lookup,
            )
        )
        await conn.execute(
            insert(ContactPointRow).values(
                customer_id=cid, kind="phone", value=phone, is_preferred=True
            )
        )
        products = (await conn.scalars(select(ProductRow.id).order_by(ProductRow.id))).all()
        for h in range(holdings):
            await conn.execute(
                insert(HoldingRow).values(
                    customer_id=cid,
                    product_id=products[h % len(products)],
                    account_number=f"T{cid}-{h}",
                    currency="CNY",
                    balance=Decimal("1000.00"),
                    status="active",
                    opened_on=date(2020, 1, 1),
                )
            )
        await conn.execute(
            insert(RelationshipStateRow).values(
                customer_id=cid, state="watch", since=NOW, version=2
            )
        )
        await conn.execute(
            insert(StateChangeRow).values(
                [
                    {
                        "customer_id": cid,
                        "from_state": None,
                        "to_state": "normal",
                        "reason_code": "ONBOARDED",
                        "actor": "system",
                        "occurred_at": NOW - timedelta(days=9),
                    },
                    {
                        "customer_id": cid,
                        "from_state": "normal",
                        "to_state": "watch",
                        "reason_code": "BALANCE_DROP",
                        "actor": "RM00001",
                        "occurred_at": NOW,
                    },
                ]
            )
        )
        if interactions:
            await conn.execute(
                insert(InteractionRow).values(
                    [
                        {
                            "customer_id": cid,
                            # Even: at the counter, staffed and costed; odd: in the app.
                            "channel": "mobile_app" if i % 2 else "counter",
                            "kind": "inquiry",
                            "branch_id": None if i % 2 else branch_id,
                            "staff_code": None if i % 2 else f"S{i:04d}",
                            "occurred_at": NOW if same_timestamp else NOW - timedelta(minutes=i),
                            "cost": None if i % 2 else Decimal("18.00"),
                            "summary": f"第{i}次咨询",
                        }
                        for i in range(interactions)
                    ]
                )
            )
        if complete:
            await _task_and_alert(conn, cid)
            await conn.execute(
                insert(RmAssignmentRow).values(
                    customer_id=cid,
                    from_rm_id=None,
                    to_rm_id=rm_id,
                    reason="开户分配",
                    actor="approver-1",
                    occurred_at=NOW,
                )
            )
            await conn.execute(
                insert(RmTeamMemberRow).values(
                    customer_id=cid, rm_id=rm_id, role="产品经理", added_by="approver-1"
                )
            )
    return Made(id=cid, resident_id=rid, phone=phone, code=code, rm_id=rm_id)


async def _task_and_alert(conn: AsyncConnection, customer_id: int) -> None:
    """An open contact task with an internal title, and the acknowledged alert that opened it."""
    task_id = await conn.scalar(
        insert(TaskRow)
        .values(
            customer_id=customer_id,
            kind="follow_up",
            status="open",
            title="内部: 疑似欺诈,核实大额转出",
            owner_kind="staff",
            owner_ref="agent-owner",
            due_at=NOW + timedelta(days=3650),
            created_by="detector",
        )
        .returning(TaskRow.id)
    )
    await conn.execute(
        insert(AlertRow).values(
            customer_id=customer_id,
            rule="large_fund_movement",
            severity="high",
            status="acknowledged",
            dedupe_key=f"test:{customer_id}",
            evidence={"movementId": 1, "amount": "880000.00", "threshold": "500000"},
            task_id=task_id,
            fired_at=NOW,
            acknowledged_by="rm-owner",
            acknowledged_at=NOW,
        )
    )


async def backdate(engine: AsyncEngine, *customer_ids: int) -> None:
    """Onboard the customers at NOW, so the month NOW falls in (2026-11) scores them whatever
    today's date is."""
    async with engine.begin() as conn:
        await conn.execute(
            update(CustomerRow)
            .where(CustomerRow.id.in_(customer_ids))
            .values(created_at=NOW - timedelta(days=30))
        )
