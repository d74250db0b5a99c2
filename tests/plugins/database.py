"""Database fixtures: one fresh database per test run, migrated by Alembic, and one
transaction per test rolled back at the end.

The server is TEST_DATABASE_URL, else DATABASE_URL, else the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from salescoach_core.database import Database, to_sqlalchemy_url
from salescoach_core.database.embedded import start_embedded_server
from salescoach_core.database.migrations import upgrade
from salescoach_core.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def _server_url() -> str:
    # Tests are the one place that reads TEST_DATABASE_URL: it is not a product setting.
    external = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if external:
        return to_sqlalchemy_url(external)
    state_dir = Path(os.environ.get("SALESCOACH_STATE_DIR", REPO_ROOT / ".salescoach"))
    return to_sqlalchemy_url(start_embedded_server(state_dir, "postgres"))


@pytest.fixture(scope="session")
def server_engine() -> Iterator[Engine]:
    """An autocommit engine on the test server's maintenance database (to create databases)."""
    engine = create_engine(_server_url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def create_database(server_engine: Engine, prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    with server_engine.connect() as conn:
        conn.exec_driver_sql(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)).as_string())
    return (
        make_url(server_engine.url.render_as_string(hide_password=False))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def drop_database(server_engine: Engine, url: str) -> None:
    name = make_url(url).database
    assert name is not None
    with server_engine.connect() as conn:
        conn.exec_driver_sql(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)).as_string()
        )


@pytest.fixture(scope="session")
def database_url(server_engine: Engine) -> Iterator[str]:
    """A fresh database for this test run, migrated to head with Alembic."""
    url = create_database(server_engine, "salescoach_test")
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_database(server_engine, url)


@pytest.fixture(scope="module")
def committed_url(server_engine: Engine) -> Iterator[str]:
    """A database of the test module's own where rows are committed for real: for what reads
    other transactions' commits (workers, the feed, a live server, concurrent requests)."""
    url = create_database(server_engine, "salescoach_committed")
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_database(server_engine, url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,  # type: ignore[arg-type]
        state_dir=tmp_path_factory.mktemp("state"),
    )


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def db_session(connection: Connection) -> Iterator[Session]:
    """A session whose commits become savepoints of the test's rolled-back transaction."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture(scope="session")
def database(settings: Settings, engine: Engine) -> Database:
    """The product's Database handle on the test database."""
    return Database.from_engine(settings, engine)


@contextmanager
def statements_on(connection: Connection) -> Iterator[list[str]]:
    """The SQL statements run on `connection` inside the block, in order (to catch N+1 queries)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)
