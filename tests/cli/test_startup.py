"""Each `salescoach` command imports what it uses and no more: `--help` neither the API, the
database layer nor the Salesforce client; `apikey create` and `sync run` not the web framework;
`apikey create` only the tables it touches; `sync run` one HTTP client (simple-salesforce's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.startup import command_env, free_port, loaded_modules, loaded_packages

WEB = {"fastapi", "starlette", "uvicorn"}
DATABASE = {"sqlalchemy", "sqlmodel", "psycopg", "alembic"}
SALESFORCE = {"simple_salesforce", "requests", "httpx", "zeep"}
# What no command that reaches the database without serving HTTP needs: the API package, the
# migration machinery, the export formats.
NOT_FOR_COMMANDS = {"salescoach_api", "alembic", "pyarrow"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Nothing listens on either port: each command loads its modules, then fails to connect."""
    return command_env(
        tmp_path,
        database_url=f"postgresql://salescoach@127.0.0.1:{free_port()}/salescoach",
        login_url=f"https://127.0.0.1:{free_port()}",
    )


def test_help_imports_neither_the_api_nor_the_database_nor_salesforce(
    env: dict[str, str], tmp_path: Path
) -> None:
    loaded = loaded_packages("--help", env=env, cwd=tmp_path)

    assert "typer" in loaded  # the probe saw the command run
    unwanted = WEB | DATABASE | SALESFORCE | {"salescoach_api", "salescoach_sync", "salescoach_emulator"}
    assert loaded.isdisjoint(unwanted), loaded & unwanted


@pytest.mark.parametrize(
    ("args", "needs"),
    [
        (("apikey", "create", "--role", "admin", "--name", "probe"), {"sqlalchemy", "psycopg"}),
        (("sync", "run"), {"sqlalchemy", "psycopg", "simple_salesforce", "requests"}),
    ],
)
def test_commands_import_no_web_framework(
    args: tuple[str, ...], needs: set[str], env: dict[str, str], tmp_path: Path
) -> None:
    loaded = loaded_packages(*args, env=env, cwd=tmp_path)

    assert needs <= loaded  # the command got as far as its database and Salesforce code
    assert loaded.isdisjoint(WEB | NOT_FOR_COMMANDS), loaded & (WEB | NOT_FOR_COMMANDS)


def test_apikey_create_loads_the_key_table_and_no_other(env: dict[str, str], tmp_path: Path) -> None:
    loaded = loaded_modules("apikey", "create", "--role", "admin", "--name", "probe", env=env, cwd=tmp_path)

    assert "salescoach_core.models.auth" in loaded
    tables = {name for name in loaded if name.startswith("salescoach_core.models.")}
    # The key's table and the shared column helpers: an admin key names no Salesforce user.
    assert tables == {"salescoach_core.models.auth", "salescoach_core.models.base"}


def test_the_sync_logs_in_without_a_second_http_client(tmp_path: Path) -> None:
    """`sync run` starts its OAuth login before anything else (`start_login`), over requests as
    simple-salesforce does: a second client (httpx, with httpcore and whatever async library it
    finds installed) cost the start-up to that first call more than everything else together.
    (simple-salesforce's SOAP dependency, zeep, loads httpx later, after the login went out.)"""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, salescoach_sync.auth; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    loaded = {name.partition(".")[0] for name in done.stdout.split()}

    assert "requests" in loaded
    unwanted = {"httpx", "httpcore", "anyio", "trio", "sqlalchemy", "simple_salesforce", "zeep"}
    assert loaded.isdisjoint(unwanted), loaded & unwanted
