"""The `bi` schema and `salescoach db grant-bi`: a login that reads the views and nothing else."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from salescoach_core.integrations.bi import VIEWS
from tests.cli.test_commands import salescoach


@pytest.fixture
def bi_role(committed_engine: Engine, server_engine: Engine) -> Iterator[str]:
    role = f"bi_reader_{secrets.token_hex(4)}"
    yield role
    with committed_engine.begin() as conn:
        conn.execute(text(f'DROP OWNED BY "{role}"'))
    with server_engine.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


def test_every_bi_view_is_documented_in_the_database(committed_engine: Engine) -> None:
    with committed_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, obj_description(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bi' AND c.relkind = 'v'"
            )
        ).all()
    assert {name for name, comment in rows if comment} == set(VIEWS)


def test_grant_bi_creates_a_read_only_login(
    committed_url: str, committed_engine: Engine, bi_role: str, tmp_path: Path
) -> None:
    password = secrets.token_urlsafe(12)
    result = salescoach(
        "db",
        "grant-bi",
        bi_role,
        env={"DATABASE_URL": committed_url, "SALESCOACH_BI_PASSWORD": password},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"created login {bi_role}" in result.stdout

    url = make_url(committed_url).set(username=bi_role, password=password)
    reader = create_engine(url)
    try:
        with reader.connect() as conn:
            for view in VIEWS:
                conn.execute(text(f"SELECT * FROM bi.{view} LIMIT 1"))
        for forbidden in ("SELECT * FROM public.api_key", "DELETE FROM bi.coaching_goals"):
            with reader.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(forbidden))
    finally:
        reader.dispose()
