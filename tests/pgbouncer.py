"""PgBouncer in transaction mode in front of the suite's embedded PostgreSQL (issue 25).

Debian's `pgbouncer` (`make test-scale` installs it): started on a free local port, trusting
local clients, pooling every client connection onto a few server connections per transaction.
With QUANJING_TEST_PGBOUNCER=1 the suite's engine — every test that goes through the app —
connects through it (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from api.ops.backups import SYSTEM_USER
from api.ops.embedded import DATABASE_NAME
from tests.websocket import free_port

ENABLED = os.environ.get("QUANJING_TEST_PGBOUNCER", "") == "1"
# Few server connections for many clients: transaction pooling is what is being tested.
SERVER_POOL_SIZE = 10


def binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        raise RuntimeError("pgbouncer is not installed: `make test-scale` installs it")
    return found


class PgBouncer:
    def __init__(self, database_url: str) -> None:
        query = parse_qs(urlparse(database_url).query)
        self.folder = Path(tempfile.mkdtemp(prefix="qj-pgbouncer-"))
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"
        users = self.folder / "users.txt"
        users.write_text('"postgres" ""\n')
        self.config = self.folder / "pgbouncer.ini"
        self.config.write_text(
            f"""[databases]
{DATABASE_NAME} = host={query["host"][0]} port={query["port"][0]} dbname={DATABASE_NAME}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {users}
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
max_client_conn = 1000
; asyncpg sends none of these; a client that does is not refused for it
ignore_startup_parameters = extra_float_digits
logfile = {self.folder / "pgbouncer.log"}
pidfile = {self.folder / "pgbouncer.pid"}
"""
        )
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            for path in (self.folder, users, self.config):
                shutil.chown(path, SYSTEM_USER, SYSTEM_USER)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [binary(), str(self.config)],
            user=SYSTEM_USER if os.geteuid() == 0 else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            log = self.folder / "pgbouncer.log"
            if log.exists() and "process up" in log.read_text(errors="replace"):
                return
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not start: {self.log()[-2000:]}")

    def log(self) -> str:
        log = self.folder / "pgbouncer.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)
