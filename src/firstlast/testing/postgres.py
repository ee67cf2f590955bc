"""A throwaway PostgreSQL server for tests: ``initdb`` in a temp folder, ``pg_ctl start`` on a free
port on 127.0.0.1, a fresh database per test, everything removed at the end.

    with PostgresCluster.start() as cluster:
        url = cluster.create_database()          # postgresql+psycopg://postgres@127.0.0.1:PORT/t_1
        ...
        cluster.drop_database(url)

PostgreSQL refuses to run as root (CI runs as root): then the server runs as the ``postgres`` system
user (``runuser -u postgres``), which Debian's ``postgresql`` package creates. The binaries are looked
up on PATH, then under /usr/lib/postgresql/*/bin. ``PostgresUnavailable`` says why a cluster could
not start, so a test run can skip or (in CI) fail with that reason.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from firstlast.testing.servers import free_port

# a non-UTC server time zone, so that code relying on the server's zone shows up in tests
SERVER_TIMEZONE = "America/New_York"


class PostgresUnavailable(RuntimeError):
    """The binaries are missing, or the server would not start."""


def find_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "pg_ctl").exists() and (folder / "initdb").exists():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install them with "
        "`apt-get install -y postgresql`"
    )


class PostgresCluster:
    def __init__(self, bin_dir: Path, root: Path, port: int, user: str | None) -> None:
        self.bin_dir, self.root, self.port, self._user = bin_dir, root, port, user
        self._names = itertools.count(1)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @classmethod
    @contextmanager
    def start(cls) -> Iterator[PostgresCluster]:
        bin_dir = find_binaries()
        user = None
        if os.geteuid() == 0:  # initdb and postgres refuse root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no `postgres` user") from None
            user = "postgres"
        root = Path(tempfile.mkdtemp(prefix="firstlast-pg-"))
        if user is not None:
            shutil.chown(root, user)
        cluster = cls(bin_dir, root, free_port(), user)
        try:
            cluster._init_and_start()
            yield cluster
        finally:
            cluster._stop()
            shutil.rmtree(root, ignore_errors=True)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self._user, "--"] if self._user else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{Path(command[0]).name} failed: {done.stderr.strip()[-800:]}")

    def _init_and_start(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
            f"-c timezone={SERVER_TIMEZONE}"
        )
        log = self.root / "server.log"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "start",
        )

    def _stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with suppress(PostgresUnavailable):
                self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres") as conn:
            conn.autocommit = True
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, template: str | None = None) -> str:
        """A new database, empty or a copy of the database at URL ``template`` (which nobody may be
        connected to); its SQLAlchemy URL."""
        name = f"t_{os.getpid()}_{next(self._names)}"
        copy = f" TEMPLATE {template.rsplit('/', 1)[1]}" if template else ""
        self._admin(f"CREATE DATABASE {name}{copy}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop it, closing whatever connections are still open to it."""
        self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
