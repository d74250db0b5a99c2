"""Fixtures for the analytics tests: the org's stages, a fixed clock, apps with other settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from salescoach_api.dependencies import get_now
from tests.plugins.factories import Factory

FIXED_NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")


def at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


@pytest.fixture
def stages(factory: Factory) -> tuple[str, ...]:
    """Four open stages (the first two are the early half), Closed Won and Closed Lost.

    Inserted out of SortOrder so that the order served must come from SortOrder.
    """
    factory.stage("Closed Lost", sort_order=60, closed=True)
    factory.stage("Negotiation", sort_order=40)
    factory.stage("Prospecting", sort_order=10)
    factory.stage("Closed Won", sort_order=50, won=True)
    factory.stage("Proposal", sort_order=30)
    factory.stage("Qualification", sort_order=20)
    return OPEN_STAGES


@pytest.fixture
def fixed_now(app: FastAPI) -> datetime:
    app.dependency_overrides[get_now] = lambda: FIXED_NOW
    return FIXED_NOW


@pytest.fixture
def client_with(client_on_settings: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """Clients on apps with some settings changed, sharing the test's transaction and clock."""
    return lambda **changes: client_on_settings(now=FIXED_NOW, **changes)
