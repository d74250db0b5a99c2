"""API fixtures: the real application, its request sessions joined to the test's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_api.auth.service import create_api_key
from salescoach_api.dependencies import get_session
from salescoach_api.exports.router import ExportSource, get_export_source
from salescoach_core.database import Database
from salescoach_core.roles import Role
from salescoach_core.settings import Settings


@pytest.fixture
def app(settings: Settings, database: Database, db_session: Session) -> FastAPI:
    application = create_app(settings, database)

    def session_in_test_transaction() -> Iterator[Session]:
        yield db_session
        db_session.flush()

    application.dependency_overrides[get_session] = session_in_test_transaction
    return application


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
def export_client(app: FastAPI, client: TestClient, db_session: Session) -> TestClient:
    """`client`, with exports reading the test's transaction instead of opening their own connection."""

    @contextmanager
    def connect() -> Iterator[Connection]:
        yield db_session.connection()

    app.dependency_overrides[get_export_source] = lambda: ExportSource(
        connect=connect, session=lambda: nullcontext(db_session)
    )
    return client
