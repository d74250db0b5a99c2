"""Each `salescoach` command imports what it uses and no more: `--help` neither the API, the
database layer nor the Salesforce client; `apikey create` and `sync run` not the web framework."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.startup import command_env, free_port, loaded_packages

WEB = {"fastapi", "starlette", "uvicorn"}
DATABASE = {"sqlalchemy", "sqlmodel", "psycopg", "alembic"}
SALESFORCE = {"simple_salesforce", "requests", "httpx"}


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
        (("sync", "run"), {"sqlalchemy", "psycopg", "simple_salesforce", "httpx"}),
    ],
)
def test_commands_import_no_web_framework(
    args: tuple[str, ...], needs: set[str], env: dict[str, str], tmp_path: Path
) -> None:
    loaded = loaded_packages(*args, env=env, cwd=tmp_path)

    assert needs <= loaded  # the command got as far as its database and Salesforce code
    assert loaded.isdisjoint(WEB), loaded & WEB
