"""The embedded PostgreSQL: shared safely by two processes, reused across runs, stopped cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from fastapi.testclient import TestClient

from salescoach_api.app import create_app
from salescoach_core.database import Database
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
