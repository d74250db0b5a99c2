"""No credential reaches a log line, and a database that cannot answer is a 503, never a 500 or a hang.

Each test forces the failure for real (a broken table, a server that is not there, a lock held
by another connection) and reads what the process wrote to stderr.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_core.api_keys import create_api_key
from salescoach_core.database import Database
from salescoach_core.logging import configure_logging
from salescoach_core.roles import Role
from salescoach_core.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _log_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


@pytest.fixture
def committed_admin_key(engine: Engine) -> Iterator[str]:
    """An admin key committed for real, for apps that use their own database connections."""
    with Session(engine, expire_on_commit=False) as session:
        key = create_api_key(session, name="outage probe", role=Role.ADMIN, sf_user_id=None)
        session.commit()
    yield key.plaintext
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_key WHERE id = :id"), {"id": key.row.id})


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging("INFO", "json")
    return


def test_a_forced_500_logs_the_error_without_the_callers_key(
    app: FastAPI, admin_key: str, db_session: Session, json_logs: None, capfd: pytest.CaptureFixture[str]
) -> None:
    # A table the route reads is gone: the kind of fault that ends as an unhandled 500.
    db_session.execute(text("ALTER TABLE sf_user RENAME TO sf_user_gone"))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(
            "/v1/reps",
            headers={"Authorization": f"Bearer {admin_key}", "Cookie": "session=cookie-secret-42"},
        )
    assert response.status_code == 500
    assert admin_key not in response.text
    err = capfd.readouterr().err
    errors = [line for line in _log_lines(err) if line.get("event") == "unhandled_error"]
    assert errors, "the 500 was not logged"
    assert "exception" in errors[0], "the 500 was logged without its traceback"
    secret_part = admin_key.split("_", 3)[3]
    assert secret_part not in err
    assert "cookie-secret-42" not in err
    assert '"locals"' not in err


def test_database_outage_is_503_with_retry_after_and_logs_no_password(
    tmp_path_factory: pytest.TempPathFactory, json_logs: None, capfd: pytest.CaptureFixture[str]
) -> None:
    password = "pw-" + secrets.token_hex(8)
    settings = Settings(
        database_url=f"postgresql://salescoach:{password}@127.0.0.1:{_closed_port()}/salescoach",  # type: ignore[arg-type]
        state_dir=tmp_path_factory.mktemp("outage"),
    )
    key = "sc_live_0123abcd_" + secrets.token_urlsafe(32)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        started = time.monotonic()
        response = client.get("/v1/reps", headers={"Authorization": f"Bearer {key}"})
        elapsed = time.monotonic() - started
        ready = client.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < 10
    assert ready.status_code == 503
    # An anonymous caller learns that the database is unavailable, not the driver's words.
    assert ready.json()["detail"].startswith("The database is unavailable.")
    assert "127.0.0.1" not in ready.text
    err = capfd.readouterr().err
    assert password not in err
    assert key.split("_", 3)[3] not in err
    assert password not in response.text


def test_a_lock_held_elsewhere_answers_503_within_the_lock_timeout(
    settings: Settings, engine: Engine, committed_admin_key: str
) -> None:
    """A request waits at most the lock timeout for a row another transaction holds."""
    bounded = settings.model_copy(update={"database_lock_timeout_ms": 500})
    holder = engine.connect()
    transaction = holder.begin()
    try:
        holder.execute(text("LOCK TABLE api_key IN ACCESS EXCLUSIVE MODE"))
        with TestClient(create_app(bounded), raise_server_exceptions=False) as client:
            started = time.monotonic()
            response = client.get("/v1/reps", headers={"Authorization": f"Bearer {committed_admin_key}"})
            elapsed = time.monotonic() - started
    finally:
        transaction.rollback()
        holder.close()
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_busy"
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < 3


def test_readyz_answers_within_two_seconds_while_the_database_is_locked(
    settings: Settings, engine: Engine
) -> None:
    """A readiness probe must not hang with the database: it answers 503 in time instead."""
    holder = engine.connect()
    transaction = holder.begin()
    answers: list[tuple[int, float]] = []
    try:
        holder.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            for _ in range(2):
                started = time.monotonic()
                status = client.get("/readyz").status_code
                answers.append((status, time.monotonic() - started))
    finally:
        transaction.rollback()
        holder.close()
    assert [status for status, _ in answers] == [503, 503]
    assert max(seconds for _, seconds in answers) < 2.0


def test_every_pooled_connection_busy_is_503_after_the_pool_timeout(
    settings: Settings, committed_admin_key: str
) -> None:
    bounded = settings.model_copy(update={"database_pool_timeout_seconds": 1.0})
    database = Database(bounded, for_requests=True)
    # The pool's size plus its overflow: every connection it may hand out.
    held = [database.engine().connect() for _ in range(20)]
    try:
        with TestClient(create_app(bounded, database), raise_server_exceptions=False) as client:
            started = time.monotonic()
            response = client.get("/v1/reps", headers={"Authorization": f"Bearer {committed_admin_key}"})
            elapsed = time.monotonic() - started
    finally:
        for conn in held:
            conn.close()
        database.dispose()
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_busy"
    assert 0.9 < elapsed < 3


def test_a_slow_statement_is_cancelled_at_the_statement_timeout(settings: Settings) -> None:
    bounded = settings.model_copy(update={"database_statement_timeout_ms": 300})
    database = Database(bounded, for_requests=True)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            with database.engine().connect() as conn:
                conn.execute(text("SELECT pg_sleep(5)"))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=10)
    elapsed = time.monotonic() - started
    database.dispose()
    assert outcome
    assert outcome[0] is not None
    assert "statement timeout" in str(outcome[0])
    assert elapsed < 2
