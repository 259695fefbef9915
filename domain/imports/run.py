"""An import run: read records, check each alone, write them a batch per transaction, keep
the refusals and the run's progress with each batch, and resume after the last committed one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from domain.customers.history import Author
from domain.errors import DomainError
from domain.imports.batches import ImportTransaction, RecordKind, RunContext
from domain.imports.records import Outcome, Refusal, SourceRecord, Tally, refusal_of

DEFAULT_BATCH = 2_000
U = TypeVar("U", bound=ImportTransaction)


@dataclass(frozen=True, slots=True)
class Checked:
    """A batch as read and checked alone, before it is written."""

    last_line: int
    items: list[Any]
    refusals: list[Refusal]


class RunStatus:
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunRequest:
    kind: str
    file_name: str
    checksum: str  # SHA-256 of the file's bytes: --resume continues only the same file
    actor: str
    default_system: str | None = None
    dry_run: bool = False
    resume: bool = False
    batch_size: int = DEFAULT_BATCH
    defer_missing: bool = False
    history: bool = False  # past bookings: no per-movement events (no alerts on the past)
    keep_outcomes: bool = False  # per record (a batch mutation answers with them)


@dataclass(frozen=True, slots=True)
class RunState:
    """A run as recorded: how far its committed batches got."""

    id: int
    last_line: int
    tally: Tally


class ImportRuns(Protocol):
    """The record of every run (who, which file, counts, duration)."""

    async def start(self, request: RunRequest) -> int: ...

    async def unfinished(self, kind: str, checksum: str) -> RunState | None:
        """The latest run of this file that did not finish, to resume."""
        ...

    async def finish(self, run_id: int, status: str, tally: Tally, seconds: float) -> None: ...

    async def refusals(self, run_id: int) -> Sequence[Refusal]:
        """The run's refusals, by line (those of every committed batch)."""
        ...


@dataclass(frozen=True, slots=True)
class ImportRunView:
    """A run as an operator reads it back (importRuns)."""

    id: int
    kind: str
    file_name: str
    checksum: str
    actor: str
    source_system: str | None
    dry_run: bool
    status: str
    last_line: int
    tally: Tally
    seconds: float | None
    started_at: datetime
    finished_at: datetime | None


class ImportRunReader(Protocol):
    async def runs(
        self, kind: str | None, before: int | None, limit: int
    ) -> Sequence[ImportRunView]:
        """Newest first: at most `limit` runs older than `before`."""
        ...

    async def refusal_page(
        self, run_id: int, after: int | None, limit: int
    ) -> Sequence[tuple[int, Refusal]]:
        """The run's refusals in the order written, after the one with id `after`."""
        ...


@dataclass(slots=True)
class RunResult:
    run_id: int
    tally: Tally
    refusals: list[Refusal] = field(default_factory=list)
    seconds: float = 0.0
    resumed_after: int = 0  # the last line a resumed run found committed
    pending_applied: Tally | None = None  # records kept earlier, written after this run
    outcomes: dict[int, tuple[Outcome, int | None]] = field(default_factory=dict)
    matched_pairs: int | None = None  # candidate pairs the run's matching queued (customers)


class ResumeRefused(DomainError):
    code = "NOTHING_TO_RESUME"


Progress = Callable[[int, Tally], None]
Read = SourceRecord | Refusal  # a malformed line is a refusal as soon as it is read


class BulkImport(Protocol):
    """Runs an import of any kind: the files' command and the batch mutations share it."""

    async def run(
        self,
        request: RunRequest,
        lines: Iterable[Read],
        today: date,
        progress: Progress | None = None,
    ) -> RunResult: ...


def _batches(lines: Iterable[Read], size: int, after: int) -> Iterator[list[Read]]:
    batch: list[Read] = []
    for item in lines:
        if item.line <= after:
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def run_import(
    request: RunRequest,
    lines: Iterable[Read],
    kind: RecordKind[Any, U],
    runs: ImportRuns,
    transactions: Callable[[], U],
    today: date,
    progress: Progress | None = None,
) -> RunResult:
    """Import every record; per-record refusals never stop the run. A batch's writes, its
    refusals and the run's checkpoint commit together (a dry run rolls each batch back)."""
    started = time.monotonic()
    previous = await runs.unfinished(request.kind, request.checksum) if request.resume else None
    if request.resume and previous is None:
        raise ResumeRefused("no unfinished run of this file to resume; import it without --resume")
    run_id = previous.id if previous is not None else await runs.start(request)
    tally = previous.tally if previous is not None else Tally()
    after = previous.last_line if previous is not None else 0
    author = Author(request.actor, request.default_system, correlation_id=f"import-run-{run_id}")
    context = RunContext(
        run_id,
        request.kind,
        author,
        today,
        request.dry_run,
        request.defer_missing,
        announce=not request.history,
    )
    kept: list[Refusal] = []  # a dry run's refusals: nothing of them is committed
    outcomes: dict[int, tuple[Outcome, int | None]] = {}
    status = RunStatus.FAILED
    batches = _batches(lines, request.batch_size, after)

    def read_and_check() -> Checked | None:
        """The next batch, read and checked alone: CPU work done in a thread while the
        previous batch is written (PostgreSQL works on the other core meanwhile)."""
        batch = next(batches, None)
        if batch is None:
            return None
        refusals: list[Refusal] = []
        items = []
        for read in batch:
            if isinstance(read, Refusal):
                refusals.append(read)
                continue
            try:
                items.append(kind.prepare(read, request.default_system, today))
            except DomainError as exc:
                refusals.append(refusal_of(exc, read.line, read.get(kind.key_column)))
        return Checked(batch[-1].line, items, refusals)

    upcoming = asyncio.create_task(asyncio.to_thread(read_and_check))
    try:
        while (checked := await upcoming) is not None:
            upcoming = asyncio.create_task(asyncio.to_thread(read_and_check))
            items, refusals, last_line = checked.items, checked.refusals, checked.last_line
            async with transactions() as uow:
                result = await kind.write(uow, items, context)
                for refusal in refusals:  # those read or checked alone; the writer's are counted
                    result.tally.refused[refusal.code] += 1
                if request.keep_outcomes:
                    outcomes.update(result.outcomes)
                    outcomes.update((r.line, (Outcome.REFUSED, None)) for r in refusals)
                refusals = sorted(refusals + result.refusals, key=lambda r: r.line)
                tally.add(result.tally)
                if request.dry_run:
                    kept += refusals
                else:
                    await uow.save_refusals(run_id, refusals)
                    await uow.checkpoint(run_id, last_line, tally)
                    await uow.commit()
            if progress is not None:
                progress(last_line, tally)
        status = RunStatus.COMPLETED
    finally:
        if not upcoming.done():  # a failed batch: let the reader finish before leaving
            await asyncio.gather(upcoming, return_exceptions=True)
        await runs.finish(run_id, status, tally, time.monotonic() - started)
    refused = kept if request.dry_run else list(await runs.refusals(run_id))
    return RunResult(run_id, tally, refused, time.monotonic() - started, after, outcomes=outcomes)
