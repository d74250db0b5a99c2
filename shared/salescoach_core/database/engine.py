"""The SQLAlchemy engine for the configured PostgreSQL, the unit-of-work helper and the row lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import IsolationLevel
from sqlmodel import Session, SQLModel

from salescoach_core.settings import Settings

RowT = TypeVar("RowT", bound=SQLModel)


class DatabaseUnavailableError(RuntimeError):
    """The database cannot be reached or started; the message says what to check."""


def to_sqlalchemy_url(url: str) -> str:
    """Accept the conventional postgres:// and postgresql:// forms; use the psycopg 3 driver."""
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the database: DATABASE_URL, else the embedded server (started here)."""
    if settings.database_url is not None:
        return to_sqlalchemy_url(settings.database_url.get_secret_value())
    from salescoach_core.database.embedded import start_embedded_server, tcp_listener

    try:
        url = start_embedded_server(
            settings.state_dir, settings.embedded_database_name, tcp_listener(settings)
        )
    except Exception as exc:
        raise DatabaseUnavailableError(
            f"could not start the embedded PostgreSQL under {settings.state_dir / 'pgdata'}: {exc}. "
            "Check its log file there, or set DATABASE_URL to use an external server."
        ) from exc
    return to_sqlalchemy_url(url)


class Database:
    """The process's database: resolved (and, when embedded, started) on first use.

    A failure is not cached, so a process that started before its database did recovers
    on the next call (readiness turns green without a restart). An embedded server that died
    is started again before the next new connection.

    Every connection waits at most `database_connect_timeout_seconds` to open and every
    checkout at most `database_pool_timeout_seconds`. With `for_requests` (the API), each
    statement is also bounded by `database_statement_timeout_ms` and each lock wait by
    `database_lock_timeout_ms`, so a request fails fast instead of hanging with the database;
    the sync worker's long merges are not bounded that way.
    """

    def __init__(self, settings: Settings, *, for_requests: bool = False, url: str | None = None) -> None:
        """`url`: another server than the configured one (the read replica), with the same bounds."""
        self._settings = settings
        self._for_requests = for_requests
        self._url = None if url is None else to_sqlalchemy_url(url)
        self._engine: Engine | None = None
        self._autocommit_engine: Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_engine(cls, settings: Settings, engine: Engine) -> Database:
        """A handle around an engine built elsewhere (tests, tools)."""
        database = cls(settings)
        database._engine = engine
        return database

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def for_requests(self) -> bool:
        return self._for_requests

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def autocommit_engine(self) -> Engine:
        """A small pool of its own, autocommit: for a statement a request runs outside its
        transaction (the rate limiter's counter), so a row lock it takes is held for that one
        statement. Not the request pool: requests holding a connection each while waiting for a
        second one would empty it and wait on each other until the pool timeout."""
        with self._lock:
            if self._autocommit_engine is None:
                self._autocommit_engine = self._create_engine(
                    pool_size=2, max_overflow=2, isolation_level="AUTOCOMMIT"
                )
            return self._autocommit_engine

    def _create_engine(
        self, *, pool_size: int = 10, max_overflow: int = 10, isolation_level: IsolationLevel | None = None
    ) -> Engine:
        settings = self._settings
        connect_args: dict[str, Any] = {"connect_timeout": settings.database_connect_timeout_seconds}
        if self._for_requests:
            connect_args["options"] = (
                f"-c statement_timeout={settings.database_statement_timeout_ms} "
                f"-c lock_timeout={settings.database_lock_timeout_ms}"
            )
        engine = create_engine(
            self._url or database_url(settings),
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=settings.database_pool_timeout_seconds,
            connect_args=connect_args,
            isolation_level=isolation_level,
        )
        if self._url is None and settings.database_url is None:
            from salescoach_core.database.embedded import revive_embedded_server

            state_dir = settings.state_dir

            @event.listens_for(engine, "do_connect")
            def _revive(*_: Any) -> None:
                revive_embedded_server(state_dir)

        return engine

    def dispose(self) -> None:
        with self._lock:
            for engine in (self._engine, self._autocommit_engine):
                if engine is not None:
                    engine.dispose()
            self._engine = self._autocommit_engine = None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work outside a request (CLI, worker): commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def lock_row(session: Session, row: RowT) -> RowT:
    """`row` read again with `SELECT … FOR UPDATE`: the transaction holds the row until it ends,
    and the attributes are the committed state seen under the lock, not the copy loaded earlier.

    Every status change checks the state it changes *after* this call, so of two concurrent
    transitions the second waits, sees the first one's result and is refused; checking the copy
    loaded before the lock lets both pass (READ COMMITTED re-applies the second UPDATE).
    """
    session.refresh(row, with_for_update=True)
    return row
