"""A throw-away PostgreSQL cluster on 127.0.0.1 for tests, the benchmark and the demo.

PostgreSQL refuses to run as root. When this process is root, `initdb` and
`postgres` run as the `postgres` system user, and the cluster's data folder and
Unix socket live in a fresh folder under the system temp dir owned by that
user: the caller's `workdir` may sit under folders that user cannot enter
(pytest's /tmp/pytest-of-root is mode 700). The server log is always written to
`workdir` (the file is opened here and handed to the server), so it stays
readable next to the other artefacts of a run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from harness.services.process import free_port

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
SYSTEM_USER = "postgres"
SUPERUSER = "postgres"

_DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# sockaddr_un.sun_path holds 108 bytes on Linux, the trailing NUL included.
_MAX_SOCKET_PATH = 107
_LOG_TAIL_LINES = 30

# Settings for a throw-away cluster that is still a faithful durability test bed.
BASE_SETTINGS: Mapping[str, str] = {
    "max_connections": "200",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "logging_collector": "off",
    "log_line_prefix": "%m [%p] %q%u@%d ",
    # Parallel workers need dynamic shared memory; container /dev/shm is small.
    "dynamic_shared_memory_type": "mmap",
    "max_parallel_workers_per_gather": "0",
}
# `fast=True`: gives up crash safety for speed (no fsync, no torn-page guard).
FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def find_postgres_bin(search: Iterable[Path] | None = None) -> Path:
    """The folder holding the PostgreSQL server binaries (initdb, pg_ctl, postgres).

    Looks in $GRIDWATCH_PG_BIN, then next to `initdb` on PATH, then in the
    highest-versioned /usr/lib/postgresql/*/bin (Debian/Ubuntu keep the server
    binaries off PATH). `search` replaces that whole list of places.

    Raises:
        RuntimeError: no folder holds all three binaries.
    """
    candidates = list(search) if search is not None else _default_bin_candidates()
    for folder in candidates:
        if all(_is_executable(folder / name) for name in SERVER_BINARIES):
            return folder
    looked = ", ".join(str(c) for c in candidates) or "nowhere"
    raise RuntimeError(
        f"PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) not found "
        f"(looked in: {looked}): install them (apt-get install postgresql) or set "
        "GRIDWATCH_PG_BIN to the folder that holds them"
    )


def _default_bin_candidates() -> list[Path]:
    candidates: list[Path] = []
    configured = os.environ.get("GRIDWATCH_PG_BIN")
    if configured:
        candidates.append(Path(configured))
    on_path = shutil.which("initdb")
    if on_path is not None:
        # Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin).
        candidates.append(Path(on_path).resolve().parent)
    versioned = sorted(
        (Path(p) for p in glob.glob(_DEBIAN_BIN_GLOB)),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    candidates.extend(versioned)
    return candidates


def _version_key(version: str) -> tuple[int, ...]:
    """Folder name to sort key: 15 -> (15,), 9.6 -> (9, 6); words sort first."""
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@dataclass(frozen=True, slots=True)
class _RunAs:
    """The system user the server binaries run as (when we are root)."""

    name: str
    uid: int
    gid: int

    @classmethod
    def system_user(cls, name: str = SYSTEM_USER) -> _RunAs:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(
                f"running as root, PostgreSQL needs the unprivileged system user "
                f"{name!r}, which does not exist: install the postgresql package "
                "(apt-get install postgresql), which creates it"
            ) from None
        return cls(name=name, uid=entry.pw_uid, gid=entry.pw_gid)

    def popen_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for subprocess that drop to this user in the child."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1, superuser `postgres`, trust auth.

    `start` creates the cluster (initdb) the first time and waits until it
    accepts connections. `stop` shuts it down (fast mode) and discards the
    cluster; `stop(keep_data=True)`, `restart` and `kill` keep it, so a later
    `start` runs on the same data on the same port (after `kill`, with crash
    recovery). fsync stays on unless `fast`.

    Args:
        workdir: Folder for the server log (and, when not root, the cluster).
        port: TCP port; a free one when None.
        fast: Turn off fsync, synchronous_commit and full_page_writes.
        bin_dir: Folder of initdb/pg_ctl/postgres; found by `find_postgres_bin`
            when None.
        settings: Extra server settings (name -> value), applied last.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        fast: bool = False,
        bin_dir: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.fast = fast
        self.log_path = workdir / "postgres.log"
        self.bin_dir = find_postgres_bin(None if bin_dir is None else [bin_dir])
        self._settings = {**BASE_SETTINGS, **(FAST_SETTINGS if fast else {})}
        self._settings.update(settings or {})
        self._run_as = _RunAs.system_user() if os.geteuid() == 0 else None
        self._cluster_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def is_running(self) -> bool:
        """The postmaster process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def data_dir(self) -> Path | None:
        """The cluster's data folder (PGDATA); None before the first `start`."""
        return None if self._cluster_dir is None else self._cluster_dir / "data"

    @property
    def socket_dir(self) -> Path | None:
        """The folder of the server's Unix socket; None before the first `start`."""
        return self._cluster_dir

    def start(self, timeout_s: float = 30.0) -> None:
        """Create the cluster if needed, start the server and wait until it answers.

        Raises:
            RuntimeError: already running, initdb failed, the server exited
                early or did not accept connections in time (with the log tail).
                The server is stopped then; a cluster made by this call is
                deleted, one from an earlier start is kept.
        """
        if self.is_running:
            raise RuntimeError(f"postgres on port {self.port} is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        fresh = self._cluster_dir is None
        if fresh:
            self._cluster_dir = self._make_cluster_dir()
            self._initdb()
        try:
            self._launch()
            self._wait_until_ready(timeout_s)
        except BaseException:
            # A new cluster goes; one that holds earlier data stays to inspect.
            self.stop(keep_data=not fresh)
            raise

    def stop(self, timeout_s: float = 30.0, *, keep_data: bool = False) -> None:
        """Fast shutdown (what `pg_ctl stop -m fast` sends: SIGINT) and wait.

        Idempotent. Escalates to immediate shutdown, then SIGKILL, if stuck.
        Unless `keep_data`, the cluster is then deleted (the log stays).
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGQUIT)
                try:
                    process.wait(timeout=5.0)
                except subprocess.TimeoutExpired:
                    self._kill_tree(process)
        if not keep_data:
            self._discard_cluster()

    def kill(self) -> None:
        """SIGKILL the server and all its backends: a crash. The data is kept."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            self._kill_tree(process)

    def restart(self, timeout_s: float = 30.0) -> None:
        """Stop (keeping the data) and start again on the same port."""
        self.stop(timeout_s, keep_data=True)
        self.start(timeout_s)

    def url(self, name: str = "postgres") -> str:
        """SQLAlchemy URL of database `name` (psycopg 3 driver, no password)."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{name}"

    def dsn(self, name: str = "postgres") -> str:
        """libpq connection string of database `name`, for `psycopg.connect`."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={name}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` and return its SQLAlchemy URL.

        Raises:
            ValueError: `name` is not a plain identifier (letters, digits, _).
            psycopg.Error: e.g. the database exists already.
        """
        self._execute(
            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_checked(name)))
        )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE `name` if it exists, closing connections still open to it."""
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(_checked(name))
            )
        )

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last `lines` lines of the server log ("" when there is none)."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _execute(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(statement)

    def _make_cluster_dir(self) -> Path:
        """A fresh, empty folder for PGDATA and the socket, owned by the server user.

        Inside `workdir` when the server runs as us and the socket path fits;
        otherwise a new folder under the system temp dir.
        """
        in_workdir = self.workdir / "pg"
        socket_path = in_workdir / f".s.PGSQL.{self.port}"
        if self._run_as is None and len(str(socket_path)) <= _MAX_SOCKET_PATH:
            shutil.rmtree(in_workdir, ignore_errors=True)
            in_workdir.mkdir(mode=0o700, parents=True)
            return in_workdir
        folder = Path(tempfile.mkdtemp(prefix="gridwatch-pg-"))
        if self._run_as is not None:
            os.chown(folder, self._run_as.uid, self._run_as.gid)
        return folder

    def _discard_cluster(self) -> None:
        folder, self._cluster_dir = self._cluster_dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _initdb(self) -> None:
        assert self._cluster_dir is not None and self.data_dir is not None
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                f"--pgdata={self.data_dir}",
                f"--username={SUPERUSER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                # Skip initdb's final fsync of the new cluster: a crash test kills
                # the server, not the OS, so the files are safe in the page cache.
                "--no-sync",
                "--no-instructions",
            ],
            cwd=self._cluster_dir,
            capture_output=True,
            check=False,
            **self._user_kwargs(),
        )
        if result.returncode != 0:
            self._discard_cluster()
            output = (result.stderr or result.stdout).decode(errors="replace").strip()
            raise RuntimeError(f"initdb failed (exit {result.returncode}): {output}")

    def _launch(self) -> None:
        assert self._cluster_dir is not None and self.data_dir is not None
        settings = {
            **self._settings,
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self._cluster_dir),
        }
        command = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        # Opened here, so the server can write it even where it cannot enter workdir.
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self._cluster_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own session: Ctrl-C on the caller's terminal does not reach it.
                start_new_session=True,
                **self._user_kwargs(),
            )

    def _wait_until_ready(self, timeout_s: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(
                    f"postgres on port {self.port} exited early (exit {code}); "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self._accepts_connections():
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"postgres on port {self.port} did not accept connections within "
            f"{timeout_s}s; log {self.log_path}:\n{self.log_tail()}"
        )

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _user_kwargs(self) -> dict[str, Any]:
        return {} if self._run_as is None else self._run_as.popen_kwargs()

    @staticmethod
    def _kill_tree(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the postmaster and its backends (they run in sessions of their
        own, so not a process group), and wait until all are gone: a later start
        would find their shared memory still attached."""
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        process.kill()
        process.wait()
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and any(map(_is_alive, children)):
            time.sleep(0.01)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _is_alive(process: psutil.Process) -> bool:
    """Not gone and not a zombie (a zombie holds no shared memory any more).

    The orphaned backends are reaped by PID 1, which in a container may take
    a while or never happen.
    """
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _checked(name: str) -> str:
    if not _DATABASE_NAME.fullmatch(name):
        raise ValueError(
            f"database name {name!r}: use 1-63 letters, digits or _, "
            "not starting with a digit"
        )
    return name
