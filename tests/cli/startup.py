"""Start a `salescoach` command as a user does and see which modules it loaded (test_startup.py
and the CLI benchmark share it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

# Runs the command, then names every module the interpreter loaded on its last line.
_REPORT_MODULES = """
import sys
from salescoach_cli.main import main
sys.argv = ["salescoach", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("modules:", *sorted(sys.modules))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def command_env(tmp_path: Path, *, database_url: str, login_url: str) -> dict[str, str]:
    """A deployment's environment: only PATH and salescoach's own variables."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "SALESCOACH_STATE_DIR": str(tmp_path / "state"),
        "SALESCOACH_SF_LOGIN_URL": login_url,
        "SALESCOACH_SF_CLIENT_ID": "client-id",
        "SALESCOACH_SF_CLIENT_SECRET": "client-secret",
    }


def loaded_modules(*args: str, env: dict[str, str], cwd: Path) -> set[str]:
    """The modules `salescoach ARGS` imported by the time it exited."""
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_MODULES, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("modules:")]
    return set(line.split()[1:])


def loaded_packages(*args: str, env: dict[str, str], cwd: Path) -> set[str]:
    """The top-level packages `salescoach ARGS` imported by the time it exited."""
    return {name.partition(".")[0] for name in loaded_modules(*args, env=env, cwd=cwd)}
