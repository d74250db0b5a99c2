"""The TypeScript client in clients/typescript, built once per run with its pinned npm tools
(package-lock.json): types generated from docs/openapi.json, `tsc --strict`, an esbuild bundle."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

CLIENT_DIR = Path(__file__).parents[2] / "clients" / "typescript"


def _npm(*args: str) -> None:
    result = subprocess.run(
        ["npm", *args, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"npm {' '.join(args)}\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="session")
def typescript_client() -> Path:
    """The client's ES module bundle (dist/salescoach.js), built from the current docs/openapi.json."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are required in CI for the TypeScript client")
        pytest.skip("node and npm are needed for the TypeScript client (install Node.js 18+)")
    installed = CLIENT_DIR / "node_modules" / ".package-lock.json"
    lock = CLIENT_DIR / "package-lock.json"
    # Test processes running side by side (pytest -n) build in turn: one directory, one npm.
    with FileLock(CLIENT_DIR / "node_modules.lock"):
        if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
            _npm("ci")
        _npm("run", "build")
    return CLIENT_DIR / "dist" / "salescoach.js"
