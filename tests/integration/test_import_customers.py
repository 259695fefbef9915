"""`quanjing import customers`: a real extract into a fresh database — the planted-error file
imports its clean part exactly, a re-import changes nothing, a delta updates with history, a
dry run writes nothing, GBK and CSV quirks are read by line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.engine import create_engine
from api.ops.embedded import Endpoints
from api.settings import Settings
from domain.customers.contacts import normalize_phone
from domain.imports.run import RunResult
from domain.search import name_pinyin
from tests.import_files import csv_text, customers, fetch, fresh_database, jsonl, run_import

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def database(endpoints: Endpoints) -> str:
    return await fresh_database(
        endpoints,
        "import_customers",
        "INSERT INTO branches (code, name, city, kind) VALUES ('NJ01', '南京分行', '南京', 'branch')",
    )


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def engine(database: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    created = create_engine(database, settings)
    yield created
    await created.dispose()


async def _import(
    settings: Settings, engine: AsyncEngine, path: Path, **options: Any
) -> tuple[RunResult, list[dict[str, Any]], str]:
    return await run_import(settings, engine, "customers", path, **options)


_rows = fetch


async def _imported(database: str, system: str) -> dict[str, tuple[Any, ...]]:
    """What the database holds for the system's keys: name, kind, gender, document hash, phone."""
    rows = await _rows(
        database,
        """
        SELECT k.key, c.display_name, c.kind, c.gender, c.occupation, c.home_branch_id,
          (SELECT d.number_hmac FROM identity_documents d WHERE d.customer_id = c.id) AS document,
          (SELECT string_agg(p.value, ',') FROM contact_points p WHERE p.customer_id = c.id)
            AS phones
        FROM customer_source_keys k JOIN customers c ON c.id = k.customer_id
        WHERE k.system = $1
        """,
        system,
    )
    return {r["key"]: tuple(r)[1:] for r in rows}


def _expected(
    record: dict[str, Any], crypto: DocumentCrypto, branch: int | None
) -> tuple[Any, ...]:
    document = (
        crypto.lookup_hash("resident_id", record["residentId"])
        if "residentId" in record
        else crypto.lookup_hash("uscc", record["uscc"])
    )
    return (
        record["displayName"],
        record["kind"].lower(),
        record.get("gender", "").lower() or None,
        record.get("occupation"),
        branch if record.get("homeBranchCode") else None,
        document,
        normalize_phone(record["phone"]),
    )


# Every twentieth record carries one of these faults: (what it does to the record, the code and
# column the report must name). A malformed line is planted in place of its record.
PLANTED: list[tuple[Any, str, str | None]] = [
    (
        lambda r: (
            r | {"residentId": r["residentId"][:-1] + ("0" if r["residentId"][-1] != "0" else "1")}
        ),
        "INVALID_INPUT",
        "residentId",
    ),
    (lambda r: r | {"birthDate": "2999-01-01"}, "INVALID_INPUT", "birthDate"),
    (lambda r: r | {"birthDate": "1990-02-30"}, "INVALID_INPUT", "birthDate"),
    (lambda r: r | {"homeBranchCode": "XX99"}, "UNKNOWN_BRANCH", "homeBranchCode"),
    (lambda r: r | {"displayName": "  "}, "INVALID_INPUT", "displayName"),
    (lambda r: r | {"phone": "12345"}, "INVALID_INPUT", "phone"),
    (lambda r: r | {"gender": "OTHERWISE"}, "INVALID_INPUT", "gender"),
    (lambda r: r | {"occupation": "工程\x00师"}, "INVALID_INPUT", "occupation"),
    (lambda r: {k: v for k, v in r.items() if k != "sourceKey"}, "INVALID_INPUT", "sourceKey"),
    (
        lambda r: r | {"kind": "CORPORATE", "registeredName": "某公司"},
        "INVALID_INPUT",
        "residentId",
    ),
    (None, "MALFORMED", None),  # half a JSON line
    ("duplicate", "DUPLICATE_DOCUMENT", "residentId"),  # the document of an earlier record
]


def _planted_file(
    count: int,
) -> tuple[bytes, list[dict[str, Any]], dict[int, tuple[str, str | None]]]:
    """The file, its clean records, and line → (code, column) of every planted fault."""
    lines: list[bytes] = []
    clean: list[dict[str, Any]] = []
    planted: dict[int, tuple[str, str | None]] = {}
    people = list(customers(count, seed=11))
    for n, record in enumerate(people):
        line = n + 1
        if n % 20 == 7 and record["kind"] == "PERSONAL":
            fault, code, column = PLANTED[(n // 20) % len(PLANTED)]
            planted[line] = (code, column)
            if fault is None:
                lines.append(orjson.dumps(record)[:25] + b"\n")
            elif fault == "duplicate":
                lines.append(
                    orjson.dumps(record | {"residentId": people[n - 7]["residentId"]}) + b"\n"
                )
            else:
                lines.append(orjson.dumps(fault(record)) + b"\n")
            continue
        if n % 50 == 3:
            record = record | {"homeBranchCode": "NJ01"}
        clean.append(record)
        lines.append(orjson.dumps(record) + b"\n")
    return b"".join(lines), clean, planted


async def test_a_file_with_planted_errors_imports_exactly_its_clean_part_and_again_nothing(
    database: str, engine: AsyncEngine, settings: Settings, crypto: DocumentCrypto, tmp_path: Path
) -> None:
    data, clean, planted = _planted_file(10_000)
    assert len(planted) >= 450  # about 5 %
    path = tmp_path / "customers.jsonl"
    path.write_bytes(data)

    result, report, summary = await _import(settings, engine, path, system="core")

    assert result.tally.inserted == len(clean)
    assert {r["line"]: (r["code"], r["field"]) for r in report} == planted
    assert sum(result.tally.refused.values()) == len(planted)
    assert f"inserted  {len(clean):,}" in summary
    branch = (await _rows(database, "SELECT id FROM branches WHERE code = 'NJ01'"))[0]["id"]
    assert await _imported(database, "core") == {
        r["sourceKey"]: _expected(r, crypto, branch) for r in clean
    }
    # Every record written whole: one registration entry in the history, completeness kept,
    # one event per batch (not one per customer), the run recorded with its counts.
    entries = await _rows(
        database,
        "SELECT count(*) AS n, count(DISTINCT correlation_id) AS runs FROM customer_changes",
    )
    assert (entries[0]["n"], entries[0]["runs"]) == (len(clean), 1)
    assessed = await _rows(
        database, "SELECT count(*) AS n FROM customers WHERE completeness IS NULL"
    )
    assert assessed[0]["n"] == 0
    events = await _rows(database, "SELECT payload FROM outbox WHERE topic = 'import.batch'")
    assert len(events) == 5  # 10,000 lines in batches of 2,000
    assert sum(len(orjson.loads(e["payload"])["registered"]) for e in events) == len(clean)
    run = (await _rows(database, "SELECT * FROM import_runs WHERE id = $1", result.run_id))[0]
    assert (run["status"], run["last_line"], run["dry_run"]) == ("completed", 10_000, False)
    assert orjson.loads(run["counts"])["inserted"] == len(clean)

    # The same file again: every clean record unchanged, nothing written.
    before = await _rows(database, "SELECT max(updated_at) AS t, sum(version) AS v FROM customers")
    again, report_again, _ = await _import(settings, engine, path, system="core")
    assert (again.tally.inserted, again.tally.updated) == (0, 0)
    assert again.tally.unchanged == len(clean)
    assert [(r["line"], r["code"], r["field"]) for r in report_again] == [
        (r["line"], r["code"], r["field"]) for r in report
    ]
    after = await _rows(database, "SELECT max(updated_at) AS t, sum(version) AS v FROM customers")
    assert tuple(after[0]) == tuple(before[0])
    entries_after = await _rows(database, "SELECT count(*) AS n FROM customer_changes")
    assert entries_after[0]["n"] == len(clean)


async def test_a_delta_updates_what_changed_with_history_and_refuses_a_changed_document(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    base = list(customers(30, seed=12, prefix="D", region="320104"))
    path = tmp_path / "base.jsonl"
    path.write_bytes(jsonl(base))
    first, _, _ = await _import(settings, engine, path, system="delta")
    assert first.tally.inserted == 30

    other = list(customers(30, seed=13, prefix="X", region="320106"))
    delta = [
        base[0] | {"occupation": "教师", "email": "zhang@example.com"},  # a field and a new point
        base[1],  # unchanged
        base[2] | {"residentId": other[0]["residentId"]},  # another resident ID: refused
        base[3] | {"displayName": "改名客户", "homeBranchCode": "NJ01"},
        {**other[1], "sourceKey": "D9999999"},  # a new customer
        base[4] | {"occupation": "第一次"},
        base[4] | {"occupation": "第二次"},  # the same key later in the file: last wins
    ]
    path = tmp_path / "delta.jsonl"
    path.write_bytes(jsonl(delta))
    result, report, summary = await _import(settings, engine, path, system="delta")

    t = result.tally
    assert (t.inserted, t.updated, t.unchanged, t.superseded) == (1, 3, 1, 1)
    assert [(r["line"], r["code"], r["field"]) for r in report] == [
        (3, "DOCUMENT_CONFLICT", "residentId")
    ]
    assert "superseded by a later line 1" in summary
    rows = await _rows(
        database,
        """
        SELECT k.key, c.occupation, c.display_name, c.name_pinyin, c.version,
          array(SELECT h.field || '=' || coalesce(h.new_value, '') FROM customer_changes h
                WHERE h.customer_id = c.id AND h.correlation_id = $1 ORDER BY h.id) AS entries
        FROM customer_source_keys k JOIN customers c ON c.id = k.customer_id
        WHERE k.system = 'delta' AND k.key = ANY($2::text[])
        """,
        f"import-run-{result.run_id}",
        [r["sourceKey"] for r in base[:5]],
    )
    by_key = {r["key"]: r for r in rows}
    zero = by_key[base[0]["sourceKey"]]
    assert (zero["occupation"], zero["version"]) == ("教师", 2)
    assert zero["entries"] == ["personal.occupation=教师", "contactPoints.value=zhang@example.com"]
    assert by_key[base[1]["sourceKey"]]["version"] == 1
    assert by_key[base[2]["sourceKey"]]["entries"] == []  # refused: nothing written
    assert by_key[base[3]["sourceKey"]]["display_name"] == "改名客户"
    # A renamed customer is spelled anew (the database's trigger); an imported one by the
    # import itself, the same way.
    assert by_key[base[3]["sourceKey"]]["name_pinyin"] == "gaimingkehu"
    for row in rows:
        assert row["name_pinyin"] == name_pinyin(row["display_name"])
    assert by_key[base[4]["sourceKey"]]["occupation"] == "第二次"


async def test_a_dry_run_reports_the_same_refusals_and_writes_nothing(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    records = list(customers(40, seed=14, prefix="R", region="320102"))
    records[5] = records[5] | {"phone": "not a phone"}
    path = tmp_path / "dry.jsonl"
    path.write_bytes(jsonl(records))
    before = await _rows(database, "SELECT count(*) AS n FROM customers")

    result, report, summary = await _import(settings, engine, path, system="dry", dry_run=True)

    assert result.tally.inserted == 39
    assert [(r["line"], r["field"]) for r in report] == [(6, "phone")]
    assert "dry run: nothing written" in summary
    after = await _rows(database, "SELECT count(*) AS n FROM customers")
    assert after[0]["n"] == before[0]["n"]


async def test_gbk_and_csv_quirks_are_read_by_line(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    records = list(customers(6, seed=15, prefix="G", region="320104"))
    lines = csv_text(records).encode("gbk").split(b"\n")
    # Mixed line endings, a byte order mark (not GBK's, but files carry it), a line that is not
    # GBK, and a row with a column too many.
    lines[1] = lines[1] + b"\r"
    lines[3] = lines[3].replace("导入".encode("gbk"), b"\xff", 1)  # never a GBK byte
    lines[5] = lines[5] + b",extra"
    path = tmp_path / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines))  # the header line after a BOM

    result, report, _ = await _import(settings, engine, path, system="gbk", encoding="gbk")

    assert [(r["line"], r["code"]) for r in report] == [(4, "ENCODING"), (6, "MALFORMED")]
    assert result.tally.inserted == 4
    names = await _rows(
        database,
        "SELECT c.display_name FROM customers c JOIN customer_source_keys k ON k.customer_id = c.id "
        "WHERE k.system = 'gbk' ORDER BY k.key",
    )
    assert [n["display_name"] for n in names] == [
        records[0]["displayName"],
        records[1]["displayName"],
        records[3]["displayName"],
        records[5]["displayName"],
    ]

    # Again: unchanged, though nothing before the staged keys opened the transaction (no
    # branch codes to look up): the COPY must run inside it.
    again, _, _ = await _import(settings, engine, path, system="gbk", encoding="gbk")
    assert (again.tally.unchanged, again.tally.inserted) == (4, 0)


async def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=300
    )


async def test_a_run_killed_part_way_resumes_after_its_last_committed_batch(
    database: str, settings: Settings, tmp_path: Path
) -> None:
    count = 24_000
    path = tmp_path / "load.jsonl"
    path.write_bytes(jsonl(list(customers(count, seed=16, prefix="L", region="330106"))))
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "QUANJING_HOME": str(tmp_path / "home"),
    }
    command = [sys.executable, "-m", "api.cli", "import", "customers", str(path)]
    options = ["--system", "resume", "--batch-size", "1000"]
    process = await asyncio.create_subprocess_exec(
        *command, *options, env=env, stdout=subprocess.DEVNULL
    )
    try:
        committed = 0
        for _ in range(1200):  # at most a minute: the run commits a batch every few ms
            rows = await _rows(
                database, "SELECT last_line FROM import_runs WHERE source_system = 'resume'"
            )
            committed = rows[0]["last_line"] if rows else 0
            if committed >= 3_000:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    assert 3_000 <= committed < count, "the kill came too late to test a resume"
    run = (await _rows(database, "SELECT * FROM import_runs WHERE source_system = 'resume'"))[0]
    assert run["status"] == "running"  # killed: nothing finished it
    written = await _rows(
        database, "SELECT count(*) AS n FROM customer_source_keys WHERE system = 'resume'"
    )
    assert written[0]["n"] == run["last_line"]  # what was committed is what the run says

    resumed = await _run([*command, *options, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed after line {run['last_line']:,}" in resumed.stdout
    assert f"inserted  {count:,}" in resumed.stdout  # the counts carry over
    keys = await _rows(
        database,
        "SELECT count(*) AS n, count(DISTINCT key) AS distinct_keys, count(DISTINCT customer_id) "
        "AS customers FROM customer_source_keys WHERE system = 'resume'",
    )
    assert tuple(keys[0]) == (count, count, count)  # nothing doubled, nothing lost
    documents = await _rows(
        database,
        "SELECT count(*) AS n FROM identity_documents d JOIN customer_source_keys k "
        "ON k.customer_id = d.customer_id WHERE k.system = 'resume'",
    )
    assert documents[0]["n"] == count
    finished = await _rows(
        database, "SELECT status, last_line FROM import_runs WHERE id = $1", run["id"]
    )
    assert tuple(finished[0]) == ("completed", count)
    nothing_left = await _run([*command, *options, "--resume"], env)
    assert nothing_left.returncode == 2
    assert "NOTHING_TO_RESUME" in nothing_left.stderr or "no unfinished run" in nothing_left.stderr


async def test_kyc_columns_go_in_with_a_new_customer_and_change_a_known_one_with_history(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    person, company = [
        r
        for r in customers(10, seed=17, prefix="KYC", region="320106")
        if r["sourceKey"] in ("KYC0000000", "KYC0000009")
    ]
    records = [
        person | {"creditStatus": "WATCH", "creditStatusSource": "征信中心"},
        company | {"lifecycleStage": "DECLINE", "creditRecord": "有逾期已结清"},
        {
            **person,
            "sourceKey": "KYC-NOSOURCE",
            "residentId": None,
            "prospect": True,
            "creditStatus": "GOOD",
        },
        company
        | {"sourceKey": "KYC-PERSONAL", "uscc": None, "prospect": True, "occupation": "工程师"},
        company
        | {"sourceKey": "KYC-LONG", "uscc": None, "prospect": True, "creditRecord": "x" * 2001},
    ]
    path = tmp_path / "kyc.jsonl"
    path.write_bytes(jsonl(records))
    result, report, _ = await _import(settings, engine, path, system="kyc")
    assert result.tally.inserted == 2
    assert [(r["line"], r["field"]) for r in report] == [
        (3, "creditStatusSource"),
        (4, "occupation"),  # a company has no occupation: refused, not dropped
        (5, "creditRecord"),
    ]
    stored = await _rows(
        database,
        "SELECT k.key, c.credit_status, c.credit_status_source, c.lifecycle_stage, c.credit_record "
        "FROM customers c JOIN customer_source_keys k ON k.customer_id = c.id "
        "WHERE k.system = 'kyc' ORDER BY k.key",
    )
    assert [tuple(r) for r in stored] == [
        ("KYC0000000", "watch", "征信中心", None, None),
        ("KYC0000009", None, None, "decline", "有逾期已结清"),
    ]

    later = tmp_path / "later.jsonl"
    later.write_bytes(jsonl([person | {"creditStatus": "GOOD", "creditStatusSource": "贷款系统"}]))
    changed, _, _ = await _import(settings, engine, later, system="kyc")
    assert changed.tally.updated == 1
    history = await _rows(
        database,
        "SELECT h.field, h.old_value, h.new_value FROM customer_changes h "
        "JOIN customer_source_keys k ON k.customer_id = h.customer_id "
        "WHERE k.key = 'KYC0000000' AND h.correlation_id = $1 ORDER BY h.id",
        f"import-run-{changed.run_id}",
    )
    assert [tuple(r) for r in history] == [
        ("personal.creditStatus", "watch", "good"),
        ("personal.creditStatusSource", "征信中心", "贷款系统"),
    ]


async def test_a_file_is_matched_at_the_end_of_its_run(
    settings: Settings, engine: AsyncEngine, database: str, tmp_path: Path
) -> None:
    """The card centre's file brings a second record of a core-banking customer: the run
    queues the pair for review once its batches are written (a delta: incrementally)."""
    known = next(customers(1, seed=91, prefix="M", region="440104"))
    digits = known["residentId"][6:14]  # the birth date the ID number carries
    born = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    known = {**known, "birthDate": born, "displayName": "张伟"}
    first = tmp_path / "core.jsonl"
    first.write_bytes(jsonl([known]))
    loaded, _, _ = await _import(settings, engine, first, system="core_banking")
    assert loaded.tally.inserted == 1
    # A second file: the same person from the card centre, romanised, with a passport.
    twin = {
        "sourceKey": "CARD-1",
        "kind": "PERSONAL",
        "displayName": "ZHANG WEI",
        "passport": "E12345678",
        "phone": known["phone"],
        "birthDate": born,
    }
    filler = list(customers(30, seed=92, prefix="N", region="440104"))
    second = tmp_path / "cards.jsonl"
    second.write_bytes(jsonl([twin, *filler]))
    result, _, printed = await _import(settings, engine, second, system="cards")
    assert result.matched_pairs == 1
    assert "possible duplicates queued for review: 1" in printed
    pairs = await _rows(
        database,
        "SELECT c.status, c.probability FROM match_candidates c "
        "JOIN customer_source_keys a ON a.customer_id IN (c.left_id, c.right_id) AND a.key = $1 "
        "JOIN customer_source_keys b ON b.customer_id IN (c.left_id, c.right_id) AND b.key = $2",
        known["sourceKey"],
        "CARD-1",
    )
    assert [r["status"] for r in pairs] == ["pending"]
    assert pairs[0]["probability"] > 0.99
