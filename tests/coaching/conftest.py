"""A fixed clock for the coaching tests, and a small team: manager Maya, reps Alice and Bob."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from salescoach_api.dependencies import get_now
from salescoach_core.models import SfUser
from tests.plugins.factories import Factory

NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Team:
    maya: SfUser
    alice: SfUser
    bob: SfUser


@pytest.fixture
def set_now(app: FastAPI) -> Callable[[datetime], None]:
    def set_clock(now: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: now

    set_clock(NOW)
    return set_clock


@pytest.fixture
def team(factory: Factory, set_now: Callable[[datetime], None]) -> Team:
    maya = factory.user("Maya Manager")
    return Team(
        maya=maya,
        alice=factory.user("Alice Adams", manager=maya),
        bob=factory.user("Bob Brown", manager=maya),
    )


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def new_session(client: TestClient, rep: SfUser, **fields: Any) -> dict[str, Any]:
    body = {
        "scheduled_at": "2026-11-10T10:00:00Z",
        "duration_minutes": 30,
        "coach_id": rep.manager_id,
        **fields,
    }
    return ok(client.post(f"/v1/reps/{rep.id}/sessions", json=body), 201)  # type: ignore[no-any-return]


def new_item(client: TestClient, session_id: str, **fields: Any) -> dict[str, Any]:
    body = {"description": "Call the three stalled deals", "due_date": "2026-11-20", **fields}
    return ok(client.post(f"/v1/sessions/{session_id}/action-items", json=body), 201)  # type: ignore[no-any-return]


# A consequence session body with everything holding it needs but its action item.
CONSEQUENCE = {
    "mode": "consequence",
    "scheduled_at": "2026-11-10T10:00:00Z",
    "duration_minutes": 30,
    "standard_metric": "calls",
    "standard_threshold": "40",
    "deadline": "2026-12-15",
    "consequence": "Formal review",
    "follow_up_at": "2026-11-24T10:00:00Z",
}
