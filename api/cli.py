"""`quanjing` command line: serve, migrate, seed, demo, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

import migrations
from api.http.correlation import configure_logging
from api.ops.embedded import Endpoints, Infrastructure, pid_alive
from api.settings import Settings, SettingsError

log = logging.getLogger("quanjing")


def alembic_config(database_url: str | None = None, settings: Settings | None = None) -> Config:
    """Alembic's config built in code, so it works wherever the package is installed. The
    settings give a migration that re-seals data the service's keys."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["configure_logger"] = False
    if database_url is not None:
        config.attributes["url"] = database_url
    if settings is not None:
        config.attributes["settings"] = settings
    return config


def migrate(database_url: str, settings: Settings | None = None) -> None:
    command.upgrade(alembic_config(database_url, settings), "head")


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the application (the tests' live server uses the same)."""
    return {
        "log_level": settings.log_level.lower(),
        # uvicorn configures no logging of its own: its lines go through ours (text or JSON,
        # with the correlation id), and the access line is ours (api/http/access_log.py).
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "ws": "websockets-sansio",  # the maintained implementation; "auto" picks the legacy one
        # A websocket message is held to the HTTP body limit (uvicorn's default is 16 MiB).
        "ws_max_size": settings.max_body_bytes,
        # Open requests and websockets get this long after SIGTERM/SIGINT, then are closed.
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }


def _serve(settings: Settings, endpoints: Endpoints, host: str, port: int, workers: int) -> int:
    from api.http.serving import run

    # Workers are separate processes: they find the servers this process started (or the
    # external ones) through the same variables an operator would set.
    os.environ["DATABASE_URL"] = endpoints.database_url
    os.environ["REDIS_URL"] = endpoints.redis_url
    if settings.metrics_port:
        _metrics_for_workers(settings)
    return run(
        "api.http.app:create_app",
        host=host,
        port=port,
        workers=workers,
        options=server_options(settings),
    )


def _metrics_for_workers(settings: Settings) -> None:
    """Every worker process (and this one) writes its samples under one folder, and this
    process serves their sum (api/metrics.py). The folder is named before prometheus-client is
    first imported: it chooses its multiprocess mode at import."""
    # One folder per `serve` (several may share a home), the folders of ones gone removed:
    # their samples are not ours, and prometheus-client wants an empty folder at start.
    parent = settings.home / "metrics"
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.iterdir():
        if not (old.name.isdigit() and pid_alive(int(old.name))):
            shutil.rmtree(old, ignore_errors=True)
    folder = parent / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    from api.metrics import serve_metrics

    serve_metrics(settings.metrics_host, settings.metrics_port)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)


def _address_free(host: str, port: int) -> bool:
    """Checked before the embedded servers start: a busy port fails in a second, in one line."""
    from api.http.serving import AddressUnavailable, check_address

    try:
        check_address(host, port)
    except AddressUnavailable as exc:
        print(f"quanjing: {exc}", file=sys.stderr)
        return False
    return True


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if not _address_free(args.host, args.port):
        return 1
    with Infrastructure(settings) as endpoints:
        return _serve(settings, endpoints, args.host, args.port, args.workers)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with Infrastructure(settings, redis=False) as endpoints:
        migrate(endpoints.database_url, settings)
    log.info("database is at the latest migration")
    return 0


def _seed(
    settings: Settings, database_url: str, customers: int, seed_value: int, reset: bool
) -> None:
    from api.db.document_crypto import DocumentCrypto
    from api.ops.seed import seed

    crypto = DocumentCrypto.from_settings(settings)
    report = asyncio.run(
        seed(database_url, crypto=crypto, customers=customers, seed=seed_value, reset=reset)
    )
    log.info(
        "seeded %d customers, %d holdings, %d interactions in %.1f s",
        report.customers,
        report.holdings,
        report.interactions,
        report.seconds,
    )
    asyncio.run(_score_recent_months(settings, database_url, months=3))


async def _score_recent_months(settings: Settings, database_url: str, months: int) -> None:
    """Score the last complete months, oldest first, so a fresh bank shows value, trends and
    rising contributions at once (a real bank runs `quanjing score` as each month closes)."""
    import datetime as dt

    from api.db.engine import create_engine
    from api.db.value_store import SqlValueStore
    from domain.value.contribution import format_period, shift_period

    this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
    engine = create_engine(database_url, settings)
    try:
        store = SqlValueStore(engine)
        for back in range(months, 0, -1):
            period = shift_period(this_month, -back)
            summary = await store.score(period, settings.high_value_share)
            log.info("scored %s: %d customers", format_period(period), summary.customers)
    finally:
        await engine.dispose()


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from api.ops.seed import DatabaseNotEmpty

    with Infrastructure(settings, redis=False) as endpoints:
        migrate(endpoints.database_url, settings)
        try:
            _seed(settings, endpoints.database_url, args.customers, args.seed, args.reset)
        except DatabaseNotEmpty as exc:
            print(f"quanjing: {exc}", file=sys.stderr)
            return 1
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from api.ops.seed import customer_count

    if not _address_free(args.host, args.port):
        return 1
    with Infrastructure(settings) as endpoints:
        migrate(endpoints.database_url, settings)
        if asyncio.run(customer_count(endpoints.database_url)) == 0:
            log.info("empty database: seeding a demo bank of %d customers", args.customers)
            _seed(settings, endpoints.database_url, args.customers, args.seed, reset=False)
        from api.http.tokens import mint_development_token
        from domain.access.principal import Role

        token = mint_development_token(settings, role=Role.AGENT, subject="demo-agent")
        log.info("GraphiQL at http://%s:%d/graphql", args.host, args.port)
        log.info(
            "a call-center agent token for the headers pane:\n"
            '{"Authorization": "Bearer %s"}\n'
            "(more: .venv/bin/quanjing token --role rm --rm 1 --sub rm1)",
            token,
        )
        log.info(
            "your own customers, from a file (docs/integration.md): "
            ".venv/bin/quanjing import customers docs/import-templates/customers.csv"
        )
        # One process for the demo: detection and webhooks run inside the web server.
        os.environ["QUANJING_RUN_WORKER"] = "1"
        return _serve(settings, endpoints, args.host, args.port, 1)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    from api.bootstrap import build_worker, open_resources

    async def run() -> None:
        async with open_resources(settings) as resources:
            assert resources.http is not None
            worker = build_worker(
                settings,
                resources.engine,
                resources.background,
                resources.http,
                consumer=args.consumer,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            if settings.metrics_port:
                from api.metrics import serve_metrics

                serve_metrics(settings.metrics_host, settings.metrics_port)
            worker.start()
            log.info("worker %s: detecting, delivering webhooks, relaying events", worker.consumer)
            await stop.wait()
            await worker.stop()

    asyncio.run(run())
    return 0


def cmd_detect(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt

    from api.bootstrap import Detection, open_resources

    async def run() -> None:
        # A past date is judged as of the end of that day (a backfill); today, as of now.
        end_of_day = dt.datetime.combine(args.as_of, dt.time.max, dt.UTC)
        now = min(dt.datetime.now(dt.UTC), end_of_day)
        async with open_resources(settings) as resources:
            report = await Detection(resources.engine).scheduled(args.as_of, now)
        print(
            f"as of {args.as_of}: {report.findings} findings, {len(report.alerts)} new alerts, "
            f"{report.duplicates} seen before, {report.cooled_down} in cooldown, "
            f"{len(report.proposals)} escalation proposals"
        )

    if args.as_of is None:
        args.as_of = dt.datetime.now(dt.UTC).date()
    asyncio.run(run())
    return 0


def cmd_score(settings: Settings, args: argparse.Namespace) -> int:
    from decimal import Decimal

    from api.bootstrap import open_resources
    from api.db.value_store import SqlValueStore
    from domain.errors import InvalidInput
    from domain.value.contribution import format_period, parse_period
    from domain.value.tiers import check_high_share

    try:
        period = parse_period(args.period)
        share = settings.high_value_share if args.high_share is None else Decimal(args.high_share)
        check_high_share(share)
    except (InvalidInput, ArithmeticError) as exc:
        print(f"quanjing score: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2

    async def run() -> None:
        async with open_resources(settings) as resources:
            summary = await SqlValueStore(resources.engine).score(period, share)
        tiers = ", ".join(f"{tier.value} {n:,}" for tier, n in summary.tiers.items())
        cutoff = "none" if summary.cutoff is None else f"{summary.cutoff:,.2f} CNY"
        print(
            f"scored {summary.customers:,} customers for {format_period(period)} in "
            f"{summary.seconds:.1f} s; high-value cut-off (top {share * 100:.4g} %) {cutoff}; "
            f"{tiers}"
        )

    asyncio.run(run())
    return 0


def cmd_assess_completeness(settings: Settings, args: argparse.Namespace) -> int:
    from api.bootstrap import open_resources
    from api.db.completeness import assess_everyone

    async def run() -> None:
        async with open_resources(settings) as resources:
            changed = await assess_everyone(resources.engine)
        print(f"assessed every customer's completeness: {changed:,} records changed")

    asyncio.run(run())
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from api.db.engine import create_engine
    from api.ops.importer import FileRefused, ImportOptions, import_file
    from domain.errors import DomainError

    options = ImportOptions(
        kind=args.kind,
        path=Path(args.path),
        format=args.format,
        encoding=args.encoding,
        system=args.system,
        dry_run=args.dry_run,
        resume=args.resume,
        batch_size=args.batch_size,
        report=None if args.report is None else Path(args.report),
        actor=f"import:{getpass.getuser()}",
        defer_missing=args.defer_missing,
        history=args.history,
    )

    async def run(database_url: str) -> None:
        engine = create_engine(database_url, settings)
        try:
            await import_file(settings, engine, options)
        finally:
            await engine.dispose()

    if not options.path.is_file():
        print(f"quanjing: no such file: {options.path}", file=sys.stderr)
        return 2
    with Infrastructure(settings, redis=False) as endpoints:
        migrate(endpoints.database_url, settings)
        try:
            asyncio.run(run(endpoints.database_url))
        except (FileRefused, DomainError, LookupError) as exc:
            # LookupError: an encoding Python does not know.
            print(f"quanjing: {exc}", file=sys.stderr)
            return 2
    return 0


def cmd_resolve(settings: Settings, args: argparse.Namespace) -> int:
    from api.db.engine import create_engine
    from api.db.identity import resolve

    async def run(database_url: str) -> None:
        engine = create_engine(database_url, settings)
        try:
            report = await resolve(engine, args.threshold)
        finally:
            await engine.dispose()
        print(
            f"matched {report.customers:,} customers: {report.pairs:,} candidate pairs, "
            f"{report.kept:,} at or above {args.threshold} kept for review"
        )

    with Infrastructure(settings, redis=False) as endpoints:
        migrate(endpoints.database_url, settings)
        asyncio.run(run(endpoints.database_url))
    return 0


def cmd_auto_merge(settings: Settings, args: argparse.Namespace) -> int:
    from api.db.engine import create_engine
    from api.db.merges import SqlMerges, auto_merge

    if not settings.auto_merge.thresholds:
        print("quanjing: QUANJING_AUTO_MERGE is not set: every pair waits for a steward")
        return 0

    async def run(database_url: str) -> None:
        engine = create_engine(database_url, settings)
        try:
            merged = await auto_merge(engine, SqlMerges(engine), settings.auto_merge, args.limit)
        finally:
            await engine.dispose()
        print(f"auto-merged {len(merged):,} candidate pairs")

    with Infrastructure(settings, redis=False) as endpoints:
        migrate(endpoints.database_url, settings)
        asyncio.run(run(endpoints.database_url))
    return 0


def cmd_dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    from api.redis.dead_letters import dead_letters, drop, requeue
    from api.redis.guarded import background_client

    async def run(redis_url: str) -> int:
        client = background_client(
            redis_url, settings.worker_redis_timeout_ms, cluster=settings.redis_cluster
        )
        try:
            letters = await dead_letters(client, limit=args.limit)
            if args.action == "list":
                for letter in letters:
                    print(
                        f"{letter.id}  event {letter.original_id}  {letter.error}  "
                        f"{letter.deliveries} deliveries  {letter.failed_at}  "
                        f"{letter.event.decode(errors='replace')}"
                    )
                print(f"{len(letters):,} dead letters shown")
                return 0
            ids = [letter.id for letter in letters] if args.all else list(args.ids)
            if not ids:
                print("quanjing: name the dead letters (ids from `list`) or --all", file=sys.stderr)
                return 2
            if args.action == "requeue":
                print(f"requeued {await requeue(client, ids):,} events onto the stream")
            else:
                print(f"dropped {await drop(client, ids):,} dead letters")
            return 0
        finally:
            await client.aclose()

    with Infrastructure(settings) as endpoints:
        return asyncio.run(run(endpoints.redis_url))


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from api.ops.backups import BackupError, take_backup

    if settings.database_url is not None:
        print(
            "quanjing backup: DATABASE_URL points at an external PostgreSQL; back it up with "
            "its own tools (pgBackRest, WAL-G): docs/operations.md, Backups",
            file=sys.stderr,
        )
        return 2
    try:
        made = take_backup(settings.home)
    except BackupError as exc:
        print(f"quanjing backup: {exc}", file=sys.stderr)
        return 1
    print(
        f"base backup {made.path} ({made.started_at} – {made.finished_at}, {made.seconds} s); "
        "WAL is archived continuously from now on"
    )
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime

    from api.ops.backups import BackupError, restore

    try:
        target = datetime.fromisoformat(args.to)
        done = restore(settings.home, target, Path(args.into).resolve())
    except ValueError:
        print(f"quanjing restore: --to {args.to!r} is not an ISO 8601 time", file=sys.stderr)
        return 2
    except BackupError as exc:
        print(f"quanjing restore: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {done.base} to {done.target} into {done.into} in {done.seconds} s; start it "
        f"with QUANJING_HOME={done.into} (docs/operations.md: what to do after a restore)"
    )
    return 0


SECRETS = frozenset({"jwt_secret", "data_keys", "lookup_key"})


def redacted(name: str, value: object) -> object:
    """A setting as `quanjing config` shows it: secrets only as set or not, URLs without
    their password."""
    if name in SECRETS:
        return "(set)" if value else "(unset: generated under QUANJING_HOME in development)"
    if name in ("database_url", "redis_url") and isinstance(value, str):
        from sqlalchemy.engine import make_url  # its URL masking reads Redis URLs too

        return make_url(value).render_as_string(hide_password=True)
    return value


def cmd_config(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import fields

    shown = {f.name: redacted(f.name, getattr(settings, f.name)) for f in fields(settings)}
    if args.json:
        print(json.dumps(shown, default=str, indent=2))
        return 0
    for name, value in shown.items():
        print(f"{name} = {value}")
    return 0


def cmd_security_doc(settings: Settings, args: argparse.Namespace) -> int:
    from api.ops.security_doc import rewrite

    changed = rewrite(Path(args.path))
    log.info("%s %s", args.path, "updated" if changed else "already current")
    return 0


def cmd_export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from schema import schema

    text = schema.as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    if args.apollo:
        from api.ops.apollo_cache import apollo_cache

        cache = json.dumps(apollo_cache(schema._schema), indent=2, ensure_ascii=False)
        Path(args.apollo).write_text(cache + "\n", encoding="utf-8")
    return 0


def cmd_rotate_keys(settings: Settings, args: argparse.Namespace) -> int:
    from api.db.document_crypto import DocumentCrypto
    from api.db.engine import create_engine
    from api.ops.key_rotation import (
        reseal_webhook_secrets,
        rotate_document_keys,
        rotate_lookup_hashes,
    )

    crypto = DocumentCrypto.from_settings(settings)

    async def run(database_url: str) -> tuple[int, int, int]:
        numbers = await rotate_document_keys(database_url, crypto)
        engine = create_engine(database_url, settings)
        try:
            secrets = await reseal_webhook_secrets(engine, crypto)
            hashes = await rotate_lookup_hashes(engine, crypto)
        finally:
            await engine.dispose()
        return numbers, secrets, hashes

    with Infrastructure(settings, redis=False) as endpoints:
        numbers, secrets, hashes = asyncio.run(run(endpoints.database_url))
    lookup = next(iter(crypto.lookup_keys))
    log.info("re-encrypted %d document numbers under key %s", numbers, crypto.active)
    log.info("re-sealed %d webhook signing secrets under key %s", secrets, crypto.active)
    log.info("rehashed %d document lookup hashes under lookup key %s", hashes, lookup)
    return 0


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from api.http.tokens import AuthError, mint_development_token, principal_from_claims
    from domain.access.principal import Role

    if settings.is_production:
        print("quanjing: tokens come from the identity provider in production", file=sys.stderr)
        return 2
    extra = {
        "cid": args.customer,
        "rm": args.rm,
        "branch": args.branch,
        "client_id": args.client_id,
    }
    try:
        # The server's own rules: a token it would refuse at sign-in is not minted.
        present = {k: v for k, v in extra.items() if v is not None}
        principal_from_claims({"sub": args.sub, "role": args.role, **present})
    except AuthError as exc:
        print(f"quanjing: {exc.message}", file=sys.stderr)
        return 2
    token = mint_development_token(
        settings, role=Role(args.role), subject=args.sub, ttl_seconds=args.ttl, **extra
    )
    print(token)
    return 0


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`, or a usage error naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, not {value:,}")
        return value

    return parse


PORT = _bounded(1, 65_535)
WORKERS = _bounded(1, 64)
CUSTOMERS = _bounded(1, 10_000_000)


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="quanjing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        p.add_argument("--port", type=PORT, default=8000, help="port (default 8000)")

    serve = sub.add_parser("serve", help="serve GraphQL (embedded servers if no URLs are set)")
    add_server_options(serve)
    serve.add_argument("--workers", type=WORKERS, default=1, help="worker processes (default 1)")
    serve.set_defaults(handler=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(handler=cmd_migrate)

    seed = sub.add_parser("seed", help="migrate, then load a deterministic demo bank")
    seed.add_argument("--customers", type=CUSTOMERS, default=settings.demo_customers)
    seed.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bank)")
    seed.add_argument("--reset", action="store_true", help="empty the customer tables first")
    seed.set_defaults(handler=cmd_seed)

    demo = sub.add_parser("demo", help="migrate, seed if empty, and serve with GraphiQL")
    add_server_options(demo)
    demo.add_argument("--customers", type=CUSTOMERS, default=settings.demo_customers)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=cmd_demo)

    worker = sub.add_parser(
        "worker", help="run event detection, webhook deliveries and the outbox relay"
    )
    worker.add_argument("--consumer", help="consumer name in the stream group (default host-pid)")
    worker.set_defaults(handler=cmd_worker)

    import datetime as dt

    detect = sub.add_parser("detect", help="run the time-based detection rules for a date")
    detect.add_argument(
        "--as-of", type=dt.date.fromisoformat, help="the date, YYYY-MM-DD (default today, UTC)"
    )
    detect.set_defaults(handler=cmd_detect)

    score = sub.add_parser(
        "score", help="score every customer's contribution and value tier for a month"
    )
    score.add_argument("--period", required=True, help="the month, YYYY-MM")
    score.add_argument(
        "--high-share", help="top share of customers that is high value (default 0.20)"
    )
    score.set_defaults(handler=cmd_score)

    sub.add_parser(
        "assess-completeness",
        help="assess every customer's completeness (after an upgrade or a change of the items)",
    ).set_defaults(handler=cmd_assess_completeness)

    from api.db.bulk_import import KINDS
    from api.ops.importer import FORMATS

    load = sub.add_parser(
        "import",
        help="import a file of records from the bank's systems (docs/integration.md)",
        description="Import a JSON Lines or CSV file: every record checked by the rules the "
        "mutations use, written a batch per transaction; refused records go to the report.",
    )
    load.add_argument("kind", choices=sorted(KINDS), help="what the file holds")
    load.add_argument("path", help="the file")
    load.add_argument("--format", choices=FORMATS, help="default: from the file's extension")
    load.add_argument(
        "--encoding",
        default="utf-8",
        help="the file's encoding, e.g. gbk or gb18030 (default utf-8)",
    )
    load.add_argument("--system", help="the source system of records that do not name one")
    load.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    load.add_argument("--resume", action="store_true", help="continue this file's unfinished run")
    load.add_argument(
        "--batch-size",
        type=_bounded(1, 50_000),
        default=2_000,
        help="records per transaction (default 2,000)",
    )
    load.add_argument(
        "--defer-missing",
        action="store_true",
        help="keep holdings whose customers are not there yet, and write them when they arrive",
    )
    load.add_argument(
        "--history",
        action="store_true",
        help="movements and interactions: past records, announced to no one (event detection "
        "stays quiet)",
    )
    load.add_argument("--report", help="where the report goes (default: PATH.report.jsonl)")
    load.set_defaults(handler=cmd_import)

    from domain.identity.matching import REVIEW_THRESHOLD

    resolve = sub.add_parser(
        "resolve", help="match the whole base for duplicate customers (docs/identity.md)"
    )
    resolve.add_argument(
        "--threshold",
        type=float,
        default=REVIEW_THRESHOLD,
        help=f"match probability kept for review (default {REVIEW_THRESHOLD})",
    )
    resolve.set_defaults(handler=cmd_resolve)
    merging = sub.add_parser(
        "auto-merge",
        help="merge the pending pairs at or above QUANJING_AUTO_MERGE's thresholds (the "
        "worker does it every minute)",
    )
    merging.add_argument("--limit", type=int, default=500, help="pairs per run (default 500)")
    merging.set_defaults(handler=cmd_auto_merge)

    config = sub.add_parser(
        "config", help="print the effective configuration (secrets redacted) and exit"
    )
    config.add_argument("--json", action="store_true", help="as one JSON object")
    config.set_defaults(handler=cmd_config)

    backup = sub.add_parser(
        "backup",
        help="base backup of the embedded PostgreSQL, and continuous WAL archiving from then on",
    )
    backup.set_defaults(handler=cmd_backup)
    restoring = sub.add_parser(
        "restore", help="recover the embedded PostgreSQL as it was at a time, into a new home"
    )
    restoring.add_argument("--to", required=True, help="ISO 8601 time with its zone")
    restoring.add_argument("--into", required=True, help="a new QUANJING_HOME folder")
    restoring.set_defaults(handler=cmd_restore)

    dead = sub.add_parser(
        "dead-letters",
        help="worker events that failed on every delivery: list, requeue (after a fix) or drop",
    )
    dead.add_argument("action", choices=["list", "requeue", "drop"])
    dead.add_argument("ids", nargs="*", help="dead-letter ids (from list)")
    dead.add_argument("--all", action="store_true", help="every one shown by list")
    dead.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    dead.set_defaults(handler=cmd_dead_letters)

    from domain.access.principal import Role

    token = sub.add_parser("token", help="mint a development token (HS256) for a role")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", required=True, help="subject: staff number, user or client id")
    token.add_argument("--customer", type=int, help="customer id (role customer)")
    token.add_argument("--rm", type=int, help="relationship manager id (role rm)")
    token.add_argument("--branch", help="branch code of staff")
    token.add_argument("--client-id", help="client id (role integration)")
    # No longer than the server accepts (QUANJING_JWT_MAX_LIFETIME_SECONDS).
    lifetime = settings.jwt_max_lifetime_seconds
    token.add_argument(
        "--ttl",
        type=_bounded(1, lifetime),
        default=min(8 * 3600, lifetime),
        help="seconds (default 8 h)",
    )
    token.set_defaults(handler=cmd_token)

    rotate = sub.add_parser(
        "rotate-keys",
        help="re-encrypt document numbers and webhook secrets under the first QUANJING_DATA_KEYS "
        "key, rehash document lookups under the first QUANJING_LOOKUP_KEY key",
    )
    rotate.set_defaults(handler=cmd_rotate_keys)

    doc = sub.add_parser("security-doc", help="regenerate the policy tables of docs/security.md")
    doc.add_argument("path", nargs="?", default="docs/security.md")
    doc.set_defaults(handler=cmd_security_doc)

    export = sub.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("--output", "-o", default="-", help="file to write (default stdout)")
    export.add_argument(
        "--apollo", help="also write Apollo Client's possibleTypes and typePolicies (JSON) here"
    )
    export.set_defaults(handler=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"quanjing: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    args = build_parser(settings).parse_args(argv)
    handler = args.handler
    from api.http.serving import Stopping, stop_on_signals

    try:
        # SIGTERM stops every command as SIGINT does, through the `with` blocks that close the
        # embedded servers (the default action would leave them running).
        with stop_on_signals():
            result: int = handler(settings, args)
    except Stopping:
        log.info("stopped (SIGTERM)")
        return 0
    except KeyboardInterrupt:
        log.info("stopped (SIGINT)")
        return 130
    return result


if __name__ == "__main__":
    raise SystemExit(main())
