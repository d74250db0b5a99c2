"""docker-compose.yml and `make docker-config`: every product setting reaches the api and sync
containers, the host port is configurable, and a machine without Docker is told, not failed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices

from salescoach_core.settings import ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parents[2]
# Fixed by the compose file itself: the database is the compose service and logs are JSON.
FIXED = {"DATABASE_URL", "SALESCOACH_LOG_FORMAT"}
# Not the containers' business: the API listens on 0.0.0.0:8000 inside its container (the host
# port is SALESCOACH_API_PORT, below), and the state directory and embedded server have no use
# with DATABASE_URL set.
NOT_FOR_CONTAINERS = {"SALESCOACH_API_HOST", "SALESCOACH_API_PORT", "SALESCOACH_STATE_DIR"}


def _variable(name: str) -> str:
    field = Settings.model_fields[name]
    if isinstance(field.validation_alias, AliasChoices):
        return str(field.validation_alias.choices[0])
    return f"{ENV_PREFIX}{name}".upper()


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_every_setting_reaches_the_api_and_the_sync_worker() -> None:
    services = _compose()["services"]
    expected = {
        variable
        for variable in map(_variable, Settings.model_fields)
        if variable not in NOT_FOR_CONTAINERS and not variable.startswith("SALESCOACH_EMBEDDED_")
    }
    for service in ("api", "sync"):
        environment = services[service]["environment"]
        missing = sorted(expected - set(environment))
        assert missing == [], f"{service} does not receive {missing}"
        passed = {name for name, value in environment.items() if name not in FIXED}
        # Passed through from the shell or .env, unset staying unset (empty counts as unset).
        assert {name: environment[name] for name in passed} == {name: f"${{{name}:-}}" for name in passed}


def test_the_host_port_comes_from_salescoach_api_port() -> None:
    api = _compose()["services"]["api"]
    assert api["ports"] == ["${SALESCOACH_API_PORT:-8000}:8000"]
    assert api["command"][-2:] == ["--port", "8000"]


def test_make_docker_config_without_a_compose_client_says_skipped() -> None:
    make = shutil.which("make")
    assert make is not None
    bare = Path(tempfile.mkdtemp(prefix="salescoach-nocompose-"))
    try:
        # Only bash and make on PATH: neither `docker compose` nor `docker-compose` exists.
        for tool in ("bash", "make"):
            found = shutil.which(tool)
            assert found is not None
            (bare / tool).symlink_to(found)
        result = subprocess.run(
            [make, "--no-print-directory", "docker-config"],
            cwd=REPO,
            env={**os.environ, "PATH": str(bare)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(bare, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert "skipped: no compose client" in result.stdout
