"""The demo bank goes in through the bulk import: its customers, holdings and interactions are
records with the import's columns, checked and written by the same kinds and batch
transactions as `quanjing import` (one way in). What a bank's files do not carry — the demo's
backdated customer-since dates and relationship histories, RM assignments, contact-point labels
and verification, corporate relations — is set afterwards, keyed by the ids the import wrote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.bulk_import import KINDS
from api.db.document_crypto import DocumentCrypto
from api.db.import_runs import SqlImportRuns
from domain.customers.history import Author
from domain.errors import DomainError
from domain.imports.batches import RunContext
from domain.imports.records import SourceRecord, Tally
from domain.imports.run import RunRequest, RunStatus

SYSTEM = "core_banking"
SEED_ACTOR = "seed"


class SeedRefused(Exception):
    """The import refused a record the demo bank generated: a bug in the generator."""


def key_of(cid: int) -> str:
    return f"CB{cid:010d}"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(slots=True)
class SeedImport:
    """The seeder's import runs, one per kind, and the batches it sends through them."""

    engine: AsyncEngine
    crypto: DocumentCrypto
    today: date
    runs: dict[str, tuple[int, Tally]] = field(default_factory=dict)

    async def start(self, seed: int, customers: int) -> None:
        store = SqlImportRuns(self.engine)
        checksum = hashlib.sha256(f"seed:{seed}:{customers}".encode()).hexdigest()
        for kind in ("customers", "holdings", "interactions"):
            request = RunRequest(
                kind=kind,
                file_name=f"seed:{seed}",
                checksum=checksum,
                actor=SEED_ACTOR,
                default_system=SYSTEM,
                history=True,
            )
            self.runs[kind] = (await store.start(request), Tally())

    async def finish(self, seconds: float) -> None:
        store = SqlImportRuns(self.engine)
        for run_id, tally in self.runs.values():
            await store.finish(run_id, RunStatus.COMPLETED, tally, seconds)

    async def load(self, kind: str, records: Sequence[Mapping[str, object]]) -> None:
        """One batch of one kind through the import: every record must go in."""
        wiring = KINDS[kind]
        run_id, tally = self.runs[kind]
        context = RunContext(
            run_id,
            kind,
            Author(SEED_ACTOR, SYSTEM, f"import-run-{run_id}"),
            self.today,
            announce=False,  # the demo's past raises no alerts
        )
        items = []
        for line, values in enumerate(records, start=1):
            source = SourceRecord(line, {k: _text(v) for k, v in values.items()})
            try:
                items.append(wiring.kind.prepare(source, SYSTEM, self.today))
            except DomainError as exc:
                raise SeedRefused(f"{kind} {dict(values)}: {exc}") from exc
        async with wiring.transaction(self.engine, self.crypto, None) as uow:
            result = await wiring.kind.write(uow, items, context)
            if result.refusals:
                raise SeedRefused(f"{kind}: {result.refusals[:3]}")
            await uow.commit()
        tally.add(result.tally)


async def customer_ids(conn: asyncpg.Connection, cids: Sequence[int]) -> dict[int, int]:
    """The ids the import gave the demo's customers, by the demo's own numbers."""
    rows = await conn.fetch(
        "SELECT key, customer_id FROM customer_source_keys WHERE system = $1 AND key = ANY($2)",
        SYSTEM,
        [key_of(c) for c in cids],
    )
    by_key = {r["key"]: r["customer_id"] for r in rows}
    return {c: by_key[key_of(c)] for c in cids}


def mapped(ids: Mapping[int, int], value: Any) -> Any:
    return None if value is None else ids[value]
