"""API fixtures: the real application, its request sessions joined to the test's transaction; and
the application served for real over a committed database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Connection
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_api.dependencies import get_db_session, get_now
from salescoach_api.exports.router import ExportSource, get_export_source
from salescoach_core.api_keys import create_api_key
from salescoach_core.database import Database
from salescoach_core.integrations.idempotency import IdempotencyStore
from salescoach_core.roles import Role
from salescoach_core.settings import Settings


def app_in_test_transaction(settings: Settings, database: Database, db_session: Session) -> FastAPI:
    """The application with these settings, its request sessions joined to the test's transaction."""
    application = create_app(settings, database)

    def session_in_test_transaction() -> Iterator[Session]:
        yield db_session
        db_session.flush()

    application.dependency_overrides[get_db_session] = session_in_test_transaction
    return application


@pytest.fixture
def app(settings: Settings, database: Database, db_session: Session) -> FastAPI:
    return app_in_test_transaction(settings, database, db_session)


@pytest.fixture
def admin_key(db_session: Session) -> str:
    """An admin API key, in the test's transaction."""
    return create_api_key(db_session, name="test admin", role=Role.ADMIN, sf_user_id=None).plaintext


@pytest.fixture
def client(app: FastAPI, admin_key: str) -> Iterator[TestClient]:
    """An HTTP client on the app, authenticated as an admin. Server errors come back as
    responses, as a real client sees them. Tests of access rules set their own credentials."""
    with TestClient(
        app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {admin_key}"}
    ) as test_client:
        yield test_client


@pytest.fixture
def idem_client(app: FastAPI, client: TestClient, db_session: Session) -> TestClient:
    """`client` with the app's idempotency records written in the test's transaction, like
    everything else the request writes."""

    @contextmanager
    def in_test() -> Iterator[Session]:
        yield db_session
        db_session.flush()

    app.state.idempotency_store = IdempotencyStore(in_test)
    return client


@pytest.fixture
def live_api(settings: Settings, committed_url: str) -> Iterator[str]:
    """The real app served by uvicorn on 127.0.0.1 (a thread of this process) over the module's
    committed database: for what only a real server shows, such as concurrent requests and the
    moment a response reaches the client. Yields the base URL; rows are committed by the test."""
    live_settings = settings.model_copy(
        update={"database_url": SecretStr(committed_url), "rate_limit_per_minute": 0}
    )
    database = Database(live_settings)
    config = uvicorn.Config(
        create_app(live_settings, database), host="127.0.0.1", port=0, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    database.dispose()


def exports_in_test_transaction(application: FastAPI, db_session: Session) -> None:
    """Exports read the test's transaction instead of opening their own connection."""

    @contextmanager
    def connect() -> Iterator[Connection]:
        yield db_session.connection()

    application.dependency_overrides[get_export_source] = lambda: ExportSource(
        connect=connect, db_session=lambda: nullcontext(db_session)
    )


@pytest.fixture
def export_client(app: FastAPI, client: TestClient, db_session: Session) -> TestClient:
    """`client`, with exports reading the test's transaction."""
    exports_in_test_transaction(app, db_session)
    return client


@pytest.fixture
def client_on_settings(
    settings: Settings, database: Database, db_session: Session, admin_key: str
) -> Iterator[Callable[..., TestClient]]:
    """`make(now=None, **changes)`: an admin client on an app with these settings changed, in the
    test's transaction (exports too), its clock fixed at `now` when given."""
    clients: list[TestClient] = []

    def make(now: datetime | None = None, **changes: Any) -> TestClient:
        application = app_in_test_transaction(settings.model_copy(update=changes), database, db_session)
        exports_in_test_transaction(application, db_session)
        if now is not None:
            application.dependency_overrides[get_now] = lambda: now
        client = TestClient(
            application, raise_server_exceptions=False, headers={"Authorization": f"Bearer {admin_key}"}
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
