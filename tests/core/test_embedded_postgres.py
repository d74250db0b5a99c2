"""The embedded PostgreSQL: shared safely by two processes, reused across runs, stopped cleanly."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from tests.cli.test_commands import free_port, salescoach

from salescoach_api.app import create_app
from salescoach_core.database import Database, to_sqlalchemy_url
from salescoach_core.database.embedded import start_embedded_server
from salescoach_core.database.migrations import upgrade
from salescoach_core.settings import Settings

HOLDER = """
import sys
from pathlib import Path
from salescoach_core.database.embedded import start_embedded_server
from salescoach_core.logging import configure_logging
configure_logging("WARNING")
url = start_embedded_server(Path(sys.argv[1]), "salescoach")
print(url, flush=True)
sys.stdin.readline()
"""


def _start_holder(state_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _url_of(holder: subprocess.Popen[str]) -> str:
    assert holder.stdout is not None
    line = holder.stdout.readline().strip()
    if not line.startswith("postgresql://"):
        holder.kill()
        _, errors = holder.communicate(timeout=10)
        pytest.fail(f"embedded server did not start: {line} {errors}")
    return line


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(timeout=60) == 0


def _server_started_at(url: str) -> str:
    """Identifies one run of the server: a restart would change it."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "st"


def test_two_processes_share_one_server_and_the_last_one_stops_it(state_dir: Path) -> None:
    first, second = _start_holder(state_dir), _start_holder(state_dir)
    try:
        first_url, second_url = _url_of(first), _url_of(second)
        assert first_url == second_url
        server_identity = _server_started_at(first_url)

        _release(first)
        # The second process still holds the server: it must still answer, unrestarted.
        assert _server_started_at(second_url) == server_identity

        _release(second)
    finally:
        for holder in (first, second):
            if holder.poll() is None:
                holder.kill()
    deadline = time.monotonic() + 10
    while (state_dir / "pgdata" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (state_dir / "pgdata" / "postmaster.pid").exists(), "server left running"


def test_data_survives_a_restart_of_the_embedded_server(state_dir: Path) -> None:
    holder = _start_holder(state_dir)
    url = _url_of(holder)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    _release(holder)

    holder = _start_holder(state_dir)
    try:
        with psycopg.connect(_url_of(holder)) as conn:
            row = conn.execute("SELECT value FROM kept").fetchone()
        assert row == ("still here",)
    finally:
        _release(holder)


def test_a_killed_holder_does_not_keep_the_server_alive_forever(state_dir: Path) -> None:
    killed = _start_holder(state_dir)
    _url_of(killed)
    killed.kill()
    killed.wait(timeout=10)

    survivor = _start_holder(state_dir)
    _url_of(survivor)
    _release(survivor)
    deadline = time.monotonic() + 10
    while (state_dir / "pgdata" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (state_dir / "pgdata" / "postmaster.pid").exists()


@pytest.fixture
def open_state_dir() -> Iterator[Path]:
    """A state directory outside pytest's private tmp tree, whose permissions another pytest
    run on the machine may reset while the server's user still needs to reach it."""
    path = Path(tempfile.mkdtemp(prefix="salescoach-revive-"))
    yield path / "st"
    shutil.rmtree(path, ignore_errors=True)


def test_the_api_starts_a_killed_embedded_server_again_and_turns_ready(open_state_dir: Path) -> None:
    state_dir = open_state_dir
    settings = Settings(database_url=None, state_dir=state_dir)
    upgrade(Database(settings).engine())
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        url = start_embedded_server(state_dir, "salescoach")
        first_run = _server_started_at(url)

        postmaster = int((state_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(postmaster) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not psutil.pid_exists(postmaster)

        statuses = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses.append(client.get("/readyz").status_code)
            if statuses[-1] == 200:
                break
            time.sleep(0.2)
    assert statuses[-1] == 200, statuses
    assert _server_started_at(url) != first_run


TCP_HOLDER = """
import sys
from pathlib import Path
from salescoach_core.database.embedded import revive_embedded_server, start_embedded_server, tcp_listener
from salescoach_core.logging import configure_logging
from salescoach_core.settings import Settings
configure_logging("INFO")
settings = Settings(state_dir=Path(sys.argv[1]))
url = start_embedded_server(settings.state_dir, "salescoach", tcp_listener(settings))
print(url, flush=True)
for line in sys.stdin:
    if line.strip() != "revive":
        break
    print(revive_embedded_server(settings.state_dir), flush=True)
"""


def _start_tcp_holder(state_dir: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", TCP_HOLDER, str(state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PGPASSFILE": os.devnull, **env},
    )


def _tcp(port: int, user: str = "postgres", password: str | None = None) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host="127.0.0.1", port=port, user=user, dbname="salescoach", password=password, connect_timeout=5
    )


def _assert_refused_without_the_password(port: int) -> None:
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        _tcp(port)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _tcp(port, password="not-the-password")


def test_tcp_listener_takes_the_generated_password_survives_a_restart_and_serves_bi(
    open_state_dir: Path,
) -> None:
    state_dir, port = open_state_dir, free_port()
    holder = _start_tcp_holder(state_dir, SALESCOACH_EMBEDDED_PG_PORT=str(port))
    try:
        socket_url = _url_of(holder)
        password_path = state_dir / "embedded-pg-password"
        assert stat.S_IMODE(password_path.stat().st_mode) == 0o600
        password = password_path.read_text().strip()
        assert len(password) >= 24

        with _tcp(port, password=password) as conn:
            row = conn.execute("SELECT inet_server_port(), current_user").fetchone()
        assert row == (port, "postgres")  # over TCP (a socket connection has no server port)
        _assert_refused_without_the_password(port)

        # The documented BI path: migrate, `salescoach db grant-bi`, then log in as that role.
        upgrade(create_engine(to_sqlalchemy_url(socket_url)))
        bi_password = secrets.token_urlsafe(12)
        granted = salescoach(
            "db",
            "grant-bi",
            "bi_reader",
            env={"DATABASE_URL": socket_url, "SALESCOACH_BI_PASSWORD": bi_password},
            cwd=state_dir.parent,
        )
        assert granted.returncode == 0, granted.stderr
        with _tcp(port, user="bi_reader", password=bi_password) as conn:
            conn.execute("SELECT count(*) FROM bi.reps").fetchone()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM public.api_key")

        # Killed and started again by the process using it: the listener and its rules come back.
        first_run = _server_started_at(socket_url)
        postmaster = int((state_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(postmaster) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.stdin is not None
        assert holder.stdout is not None
        holder.stdin.write("revive\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "True"
        assert _server_started_at(socket_url) != first_run
        with _tcp(port, password=password) as conn:
            assert conn.execute("SELECT inet_server_port()").fetchone() == (port,)
        _assert_refused_without_the_password(port)

        doctor = salescoach(
            "doctor",
            env={"SALESCOACH_STATE_DIR": str(state_dir), "SALESCOACH_EMBEDDED_PG_PORT": str(port)},
            cwd=state_dir.parent,
        )
        expected = f'PGPASSWORD="$(cat {password_path.resolve()})" psql "postgresql://postgres@127.0.0.1:{port}/salescoach"'
        assert expected in doctor.stdout, doctor.stdout + doctor.stderr
        assert password not in doctor.stdout + doctor.stderr
    finally:
        if holder.poll() is None:
            holder.stdin.write("\n")  # type: ignore[union-attr]
            holder.stdin.flush()  # type: ignore[union-attr]
        _, holder_log = holder.communicate(timeout=60)
    server_log = (state_dir / "pgdata" / "log").read_text()
    assert password not in holder_log + server_log


def test_tcp_listener_takes_the_configured_password_and_writes_none(open_state_dir: Path) -> None:
    state_dir, port, password = open_state_dir, free_port(), secrets.token_urlsafe(16)
    holder = _start_tcp_holder(
        state_dir, SALESCOACH_EMBEDDED_PG_PORT=str(port), SALESCOACH_EMBEDDED_PG_PASSWORD=password
    )
    try:
        _url_of(holder)
        with _tcp(port, password=password) as conn:
            assert conn.execute("SELECT inet_server_port()").fetchone() == (port,)
        _assert_refused_without_the_password(port)
        assert not (state_dir / "embedded-pg-password").exists()
    finally:
        _release(holder)


def test_without_a_tcp_port_the_server_listens_on_its_socket_only(open_state_dir: Path) -> None:
    holder = _start_holder(open_state_dir)
    try:
        with psycopg.connect(_url_of(holder)) as conn:
            row = conn.execute("SELECT current_setting('listen_addresses'), inet_server_port()").fetchone()
        assert row == ("", None)
    finally:
        _release(holder)
