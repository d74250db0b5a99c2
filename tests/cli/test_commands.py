"""The `salescoach` command as a user runs it: a real process, real environment variables."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def salescoach(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from salescoach_cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "200", **env},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_doctor_passes_on_a_migrated_database_and_names_the_modes(database_url: str, tmp_path: Path) -> None:
    result = salescoach("doctor", env={"DATABASE_URL": database_url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "reachable" in result.stdout
    assert "at head" in result.stdout
    assert "local emulator" in result.stdout
    assert "environment (DATABASE_URL)" in result.stdout


def test_doctor_fails_with_a_clear_message_when_the_database_is_unreachable(tmp_path: Path) -> None:
    result = salescoach("doctor", env={"DATABASE_URL": "postgresql://x@127.0.0.1:1/none"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "unreachable" in result.stdout
    assert "problem" in result.stderr


def test_doctor_flags_real_mode_without_a_secret_or_key(database_url: str, tmp_path: Path) -> None:
    result = salescoach(
        "doctor", env={"DATABASE_URL": database_url, "SALESCOACH_SF_CLIENT_ID": "3MVG9x"}, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "real org" in result.stdout
    assert "SALESCOACH_SF_CLIENT_SECRET" in result.stdout


def test_invalid_setting_stops_every_command_naming_the_variable(tmp_path: Path) -> None:
    result = salescoach("doctor", env={"SALESCOACH_API_PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "API_PORT" in result.stderr


def test_api_serve_on_embedded_postgres_stops_the_server_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    state_dir = tmp_path / "state"
    env = {"SALESCOACH_STATE_DIR": str(state_dir), "PATH": os.environ.get("PATH", "")}
    upgrade = salescoach("db", "upgrade", env=env, cwd=tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr

    server = subprocess.Popen(
        [sys.executable, "-c", "from salescoach_cli.main import main; main()", "api", "serve"],
        env={**env, "SALESCOACH_API_PORT": str(port)},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 200
        assert (state_dir / "pgdata" / "postmaster.pid").exists()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    deadline = time.monotonic() + 10
    while (state_dir / "pgdata" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (state_dir / "pgdata" / "postmaster.pid").exists(), "embedded PostgreSQL left running"


def test_commands_say_in_one_line_that_the_database_is_unreachable(tmp_path: Path) -> None:
    dsn = f"postgresql://app:pw-not-to-print@127.0.0.1:{free_port()}/salescoach"
    for command in (["apikey", "list"], ["sync", "status"], ["db", "current"], ["webhooks", "deliver"]):
        result = salescoach(*command, env={"DATABASE_URL": dsn}, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, (command, result.stderr)
        assert "database is unreachable" in lines[0]
        assert "DATABASE_URL" in lines[0]
        assert "pw-not-to-print" not in result.stderr + result.stdout


def test_sync_run_says_in_one_line_that_salesforce_is_unreachable(committed_url: str, tmp_path: Path) -> None:
    # The module's own database: the failed pass commits its sync.completed event, which the
    # suite's shared database must not see.
    env = {
        "DATABASE_URL": committed_url,
        "SALESCOACH_SF_CLIENT_ID": "3MVG9x",
        "SALESCOACH_SF_CLIENT_SECRET": "not-to-print",
        "SALESCOACH_SF_LOGIN_URL": f"https://127.0.0.1:{free_port()}",
        "SALESCOACH_LOG_LEVEL": "ERROR",
    }
    result = salescoach("sync", "run", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: sync failed: ")
    assert "SALESCOACH_SF_LOGIN_URL" in lines[0]
    assert "not-to-print" not in result.stderr + result.stdout
