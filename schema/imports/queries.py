"""importRuns: every import run (files and batch mutations) with its counts and refusals, for
admins and data stewards."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.errors import DomainError
from domain.ids import encode_id
from domain.imports.records import Refusal
from domain.imports.run import ImportRunView
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import check_first, decode_id_cursor
from schema.imports.types import ImportRecordError
from schema.reference.types import Connection, connection


@strawberry.type(description="A record an import run refused: a line of its report.")
class ImportRefusal:
    pk: strawberry.Private[int]
    line: int = strawberry.field(description="The line (a batch mutation: position + 1).")
    key: str | None = strawberry.field(description="The record's source key or reference.")
    error: ImportRecordError = strawberry.field(description="The column, code and message.")

    @classmethod
    def of(cls, pk: int, refusal: Refusal) -> ImportRefusal:
        return cls(
            pk=pk,
            line=refusal.line,
            key=refusal.source_key,
            error=ImportRecordError(
                field=refusal.field, code=refusal.code, message=refusal.message
            ),
        )


@strawberry.type(description="Refused records of a run, by code.")
class RefusedCount:
    code: str = strawberry.field(description="The refusal's code.")
    count: int = strawberry.field(description="How many records.")


@strawberry.type(description="One import run: a file (`quanjing import`) or a batch mutation.")
class ImportRun:
    view: strawberry.Private[ImportRunView]

    @strawberry.field(description="The run's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("ImportRun", self.view.id))

    @strawberry.field(description="customers, holdings, branches, products, staff, movements…")
    def kind(self) -> str:
        return self.view.kind

    @strawberry.field(description="The file, or graphql:<mutation> for a batch mutation.")
    def file_name(self) -> str:
        return self.view.file_name

    @strawberry.field(description="SHA-256 of the file (of the request's records).")
    def checksum(self) -> str:
        return self.view.checksum

    @strawberry.field(description="Who ran it: import:<user> or the calling principal.")
    def actor(self) -> str:
        return self.view.actor

    @strawberry.field(description="The default source system of its records, if one was given.")
    def source_system(self) -> str | None:
        return self.view.source_system

    @strawberry.field(description="True for a dry run (nothing was written).")
    def dry_run(self) -> bool:
        return self.view.dry_run

    @strawberry.field(description="running, completed or failed (resume with --resume).")
    def status(self) -> str:
        return self.view.status

    @strawberry.field(description="The last line its committed batches covered.")
    def last_line(self) -> int:
        return self.view.last_line

    @strawberry.field(description="Records inserted.")
    def inserted(self) -> int:
        return self.view.tally.inserted

    @strawberry.field(description="Records that changed what was stored.")
    def updated(self) -> int:
        return self.view.tally.updated

    @strawberry.field(description="Records equal to what was stored (nothing written).")
    def unchanged(self) -> int:
        return self.view.tally.unchanged

    @strawberry.field(description="Records replaced by a later one with the same key.")
    def superseded(self) -> int:
        return self.view.tally.superseded

    @strawberry.field(description="Holdings kept until their customers arrive.")
    def pending(self) -> int:
        return self.view.tally.pending

    @strawberry.field(description="Records refused, by code.")
    def refused(self) -> list[RefusedCount]:
        return [RefusedCount(code=c, count=n) for c, n in sorted(self.view.tally.refused.items())]

    @strawberry.field(description="How long it ran, in seconds (null while running).")
    def seconds(self) -> float | None:
        return self.view.seconds

    @strawberry.field(description="When it started.")
    def started_at(self) -> datetime:
        return self.view.started_at

    @strawberry.field(description="When it completed (null unless completed).")
    def finished_at(self) -> datetime | None:
        return self.view.finished_at

    @strawberry.field(description="The refused records, in the order written (its report).")
    async def refusals(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ImportRefusal]:
        try:
            check_first(first)
            cursor = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        reader = info.context.import_runs
        assert reader is not None
        found = await reader.refusal_page(self.view.id, cursor, first + 1)
        return connection([ImportRefusal.of(pk, r) for pk, r in found], first, lambda r: r.pk)


@strawberry.type
class ImportQueries:
    @strawberry.field(
        description="Import runs, newest first (admins and data stewards): who ran what, the "
        "file's checksum, the counts and the duration; `kind` filters."
    )
    async def import_runs(
        self, info: Info, first: int = 20, after: str | None = None, kind: str | None = None
    ) -> Connection[ImportRun]:
        try:
            require(info, "importRuns")
            check_first(first)
            before = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        reader = info.context.import_runs
        if reader is None:  # wired by api/bootstrap.py in every server
            return connection([], first, lambda r: r.view.id)
        found = await reader.runs(kind, before, first + 1)
        return connection([ImportRun(view=v) for v in found], first, lambda r: r.view.id)
