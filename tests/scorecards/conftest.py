"""A clock the scorecard tests set, and apps configured for another org time zone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_api.dependencies import get_db_session, get_now
from salescoach_core.database import Database
from salescoach_core.settings import Settings

FIXED_NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)


@pytest.fixture
def set_now(app: FastAPI) -> Callable[[datetime], None]:
    def set_clock(now: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: now

    set_clock(FIXED_NOW)
    return set_clock


@pytest.fixture
def app_in_zone(
    settings: Settings, database: Database, db_session: Session, admin_key: str
) -> Iterator[Callable[[str], TestClient]]:
    """Clients on apps whose org time zone is the one asked for, sharing the test's transaction."""
    clients: list[TestClient] = []

    def make(zone: str) -> TestClient:
        application = create_app(settings.model_copy(update={"org_timezone": zone}), database)

        def session_in_test_transaction() -> Iterator[Session]:
            yield db_session

        application.dependency_overrides[get_db_session] = session_in_test_transaction
        application.dependency_overrides[get_now] = lambda: FIXED_NOW
        client = TestClient(application, headers={"Authorization": f"Bearer {admin_key}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
