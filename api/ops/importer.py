"""`quanjing import KIND PATH`: read a bank's extract (JSON Lines or CSV, UTF-8 or GBK/GB18030),
hand its records to the import run (domain/imports/run.py), write the report, print a summary.

Lines are split on the bytes: `\\n` and `\\r\\n` alike, mixed freely; a UTF-8 byte order mark is
skipped. Each line is decoded alone, so a line that is not valid in the file's encoding is
refused by its number and the rest of the file goes in (GBK and GB18030 never use the byte of
`\\n` inside a character).
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.bulk_import import KINDS, SqlBulkImport
from api.db.document_crypto import DocumentCrypto
from api.settings import Settings
from domain.imports.records import Refusal, SourceRecord, Tally
from domain.imports.run import Read, RunRequest, RunResult

BOM = b"\xef\xbb\xbf"
FORMATS = ("jsonl", "csv")


class FileRefused(Exception):
    """The file as a whole cannot be read (an unknown column in the CSV header)."""


def format_of(path: Path, given: str | None) -> str:
    if given is not None:
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise FileRefused(f"cannot tell the format of {path.name}: say --format jsonl or csv")


def _decoded_lines(stream: IO[bytes], encoding: str) -> Iterator[tuple[int, str | Refusal]]:
    for number, raw in enumerate(stream, 1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        try:
            yield number, raw.decode(encoding)
        except UnicodeDecodeError as exc:
            yield (
                number,
                Refusal(
                    number,
                    None,
                    None,
                    "ENCODING",
                    f"line {number} is not valid {encoding}: byte {raw[exc.start]:#04x} at "
                    f"position {exc.start + 1} (say --encoding for another encoding)",
                ),
            )


def _flat(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if text.strip() else None


def json_records(stream: IO[bytes], encoding: str, columns: Mapping[str, str]) -> Iterator[Read]:
    for number, line in _decoded_lines(stream, encoding):
        if isinstance(line, Refusal):
            yield line
            continue
        if not line.strip():
            continue
        try:
            # Numbers as written: an amount of 0.10 stays "0.10", never a float.
            data = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            yield Refusal(number, None, None, "MALFORMED", f"not a JSON object: {exc.msg}")
            continue
        if not isinstance(data, dict):
            yield Refusal(number, None, None, "MALFORMED", "each line is one JSON object")
            continue
        key = _flat(data.get("sourceKey")) if not isinstance(data.get("sourceKey"), dict) else None
        nested = [k for k, v in data.items() if isinstance(v, dict | list)]
        unknown = [k for k in data if k not in columns]
        if nested or unknown:
            column = (nested or unknown)[0]
            message = (
                "a flat value" if nested else "not a column of this kind (docs/integration.md)"
            )
            yield Refusal(number, key, column, "MALFORMED" if nested else "UNKNOWN_COLUMN", message)
            continue
        yield SourceRecord(number, {k: _flat(v) for k, v in data.items()})


def csv_records(stream: IO[bytes], encoding: str, columns: Mapping[str, str]) -> Iterator[Read]:
    decoded = _decoded_lines(stream, encoding)
    header: list[str] | None = None
    for number, line in decoded:
        if isinstance(line, Refusal):
            if header is None:
                raise FileRefused(line.message)
            yield line
            continue
        if not line.strip():
            continue
        row = next(csv.reader([line]))
        if header is None:
            header = [c.strip() for c in row]
            unknown = [c for c in header if c not in columns]
            if unknown:
                raise FileRefused(
                    f"unknown column(s) {', '.join(unknown)} in the header; the columns are "
                    + ", ".join(columns)
                )
            continue
        if len(row) != len(header):
            yield Refusal(
                number,
                None,
                None,
                "MALFORMED",
                f"{len(row)} columns where the header has {len(header)}",
            )
            continue
        yield SourceRecord(
            number, {c: (v if v.strip() else None) for c, v in zip(header, row, strict=True)}
        )


def checksum_and_lines(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines


class _Reporter:
    """A progress bar on a terminal; a plain line every few seconds otherwise (CI, a log)."""

    def __init__(self, total_lines: int, out: IO[str]) -> None:
        self._out = out
        self._tty = out.isatty()
        self._last = 0.0
        self._progress: Progress | None = None
        if self._tty:
            self._progress = Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[counts]}"),
            )
            self._task = self._progress.add_task("import", total=max(total_lines, 1), counts="")
            self._progress.start()

    def __call__(self, line: int, tally: Tally) -> None:
        counts = (
            f"inserted {tally.inserted:,} updated {tally.updated:,} unchanged "
            f"{tally.unchanged:,} refused {sum(tally.refused.values()):,}"
        )
        if self._progress is not None:
            self._progress.update(self._task, completed=line, counts=counts)
        elif time.monotonic() - self._last >= 5:
            self._last = time.monotonic()
            print(f"import: line {line:,}: {counts}", file=self._out, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


@dataclass(frozen=True, slots=True)
class ImportOptions:
    kind: str
    path: Path
    format: str | None = None
    encoding: str = "utf-8"
    system: str | None = None
    dry_run: bool = False
    resume: bool = False
    batch_size: int = 2_000
    report: Path | None = None
    actor: str = "import"
    defer_missing: bool = False
    history: bool = False


async def import_file(
    settings: Settings, engine: AsyncEngine, options: ImportOptions, out: IO[str] = sys.stdout
) -> RunResult:
    """Import the file; the report written next to it (or where --report says)."""
    kind = KINDS[options.kind]
    fmt = format_of(options.path, options.format)
    "".encode(options.encoding)  # an unknown encoding fails here, before anything is read
    checksum, total = checksum_and_lines(options.path)
    crypto = DocumentCrypto.from_settings(settings)
    reporter = _Reporter(total, out)
    try:
        with options.path.open("rb") as stream:
            reader = csv_records if fmt == "csv" else json_records
            result = await SqlBulkImport(engine, crypto).run(
                RunRequest(
                    kind=options.kind,
                    file_name=str(options.path),
                    checksum=checksum,
                    actor=options.actor,
                    default_system=options.system,
                    dry_run=options.dry_run,
                    resume=options.resume,
                    batch_size=options.batch_size,
                    defer_missing=options.defer_missing,
                    history=options.history,
                ),
                reader(stream, options.encoding, kind.columns),
                date.today(),
                reporter,
            )
    finally:
        reporter.close()
    report = options.report or options.path.with_name(options.path.name + ".report.jsonl")
    write_report(report, result.refusals)
    print(summary(options, result, report), file=out)
    return result


def write_report(path: Path, refusals: Sequence[Refusal]) -> None:
    with path.open("wb") as stream:
        for refusal in refusals:
            stream.write(orjson.dumps(refusal.as_dict()) + b"\n")


def summary(options: ImportOptions, result: RunResult, report: Path) -> str:
    t = result.tally
    lines = [
        f"import run {result.run_id} ({options.kind}{', dry run: nothing written' if options.dry_run else ''})"
        + (f", resumed after line {result.resumed_after:,}" if result.resumed_after else ""),
        f"  records   {t.records:,} in {result.seconds:.1f} s",
        f"  inserted  {t.inserted:,}",
        f"  updated   {t.updated:,}",
        f"  unchanged {t.unchanged:,}",
    ]
    if t.superseded:
        lines.append(f"  superseded by a later line {t.superseded:,}")
    if t.pending:
        lines.append(f"  pending     {t.pending:,} (kept until their customers arrive)")
    kept = result.pending_applied
    if kept is not None and kept.records:
        lines.append(
            f"  kept holdings now written: {kept.inserted + kept.updated:,} "
            f"(refused {sum(kept.refused.values()):,}, see the report)"
        )
    lines.append(f"  refused   {sum(t.refused.values()):,}")
    lines += [f"    {code:<20} {n:,}" for code, n in sorted(t.refused.items())]
    if result.matched_pairs is not None:
        lines.append(f"  possible duplicates queued for review: {result.matched_pairs:,}")
    lines.append(f"  report    {report}")
    return "\n".join(lines)
