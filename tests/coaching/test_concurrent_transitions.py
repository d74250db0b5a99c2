"""Concurrent status changes against a real server: of racing transitions of one row, exactly one
happens and writes its event; the others see the state it left (docs/coaching.md, "Concurrent
changes")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from salescoach_core.roles import Role
from tests.coaching.conftest import CONSEQUENCE
from tests.plugins.auth import Org, RoleKeys

PARALLEL = 10

Call = Callable[[httpx.Client], httpx.Response]


def race(base_url: str, headers: dict[str, str], calls: list[Call]) -> list[httpx.Response]:
    """Each call on its own connection, all released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Call) -> httpx.Response:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            http.get("/v1/me").raise_for_status()  # connect and authenticate before the start
            barrier.wait()
            return call(http)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def events_of(committed_url: str, type_: str, field: str, row_id: str) -> int:
    engine = create_engine(committed_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM event WHERE type = :type AND payload ->> :field = :id"),
                {"type": type_, "field": field, "id": row_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(count)


@pytest.fixture
def coach(live_api: str, committed_org: tuple[Org, RoleKeys]) -> httpx.Client:
    """The manager of team A, who coaches rep_a1."""
    _, keys = committed_org
    return httpx.Client(base_url=live_api, headers=keys.headers(Role.MANAGER), timeout=60)


def ready_to_hold(coach: httpx.Client, org: Org) -> str:
    """A scheduled session with what holding needs: an item with a due date and a follow-up."""
    session = coach.post(
        f"/v1/reps/{org.rep_a1.id}/sessions",
        json=CONSEQUENCE,
    )
    assert session.status_code == 201, session.text
    session_id: str = session.json()["id"]
    item = coach.post(
        f"/v1/sessions/{session_id}/action-items",
        json={"description": "Forty calls a week", "due_date": "2026-11-20"},
    )
    assert item.status_code == 201, item.text
    return session_id


def statuses(responses: list[httpx.Response]) -> list[tuple[int, Any]]:
    return sorted((r.status_code, r.json().get("code")) for r in responses)


def test_of_ten_parallel_holds_one_wins_and_one_event_is_written(
    live_api: str, committed_url: str, committed_org: tuple[Org, RoleKeys], coach: httpx.Client
) -> None:
    org, keys = committed_org
    session_id = ready_to_hold(coach, org)

    responses = race(
        live_api,
        keys.headers(Role.MANAGER),
        [lambda http: http.post(f"/v1/sessions/{session_id}/hold")] * PARALLEL,
    )

    assert statuses(responses) == [(200, None)] + [(409, "session_closed")] * (PARALLEL - 1)
    assert events_of(committed_url, "session.held", "session_id", session_id) == 1


def test_a_hold_racing_a_cancel_leaves_one_outcome_and_one_event(
    live_api: str, committed_url: str, committed_org: tuple[Org, RoleKeys], coach: httpx.Client
) -> None:
    org, keys = committed_org
    session_id = ready_to_hold(coach, org)
    calls: list[Call] = [
        lambda http: http.post(f"/v1/sessions/{session_id}/hold"),
        lambda http: http.post(f"/v1/sessions/{session_id}/cancel"),
    ] * (PARALLEL // 2)

    responses = race(live_api, keys.headers(Role.MANAGER), calls)

    winners = [r.json()["status"] for r in responses if r.status_code == 200]
    assert len(winners) == 1, statuses(responses)
    assert [r.json()["code"] for r in responses if r.status_code != 200] == ["session_closed"] * (
        PARALLEL - 1
    )
    final = coach.get(f"/v1/sessions/{session_id}").json()["status"]
    held = events_of(committed_url, "session.held", "session_id", session_id)
    canceled = events_of(committed_url, "session.canceled", "session_id", session_id)
    assert final == winners[0]
    assert (held, canceled) == ((1, 0) if final == "held" else (0, 1))


def test_of_ten_parallel_abandons_of_a_goal_one_changes_its_status(
    live_api: str, committed_url: str, committed_org: tuple[Org, RoleKeys], coach: httpx.Client
) -> None:
    org, keys = committed_org
    goal = coach.post(
        f"/v1/reps/{org.rep_a1.id}/goals",
        json={"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "rides"},
    )
    goal_id = goal.json()["id"]

    responses = race(
        live_api,
        keys.headers(Role.MANAGER),
        [lambda http: http.patch(f"/v1/goals/{goal_id}", json={"status": "abandoned"})] * PARALLEL,
    )

    assert statuses(responses) == [(200, None)] + [(409, "goal_status_transition_refused")] * (PARALLEL - 1)
    history = coach.get(f"/v1/goals/{goal_id}/history").json()["items"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "active"),
        ("active", "abandoned"),
    ]
    assert events_of(committed_url, "goal.status_changed", "goal_id", goal_id) == 1


def test_ten_parallel_completions_of_an_item_complete_it_once(
    live_api: str, committed_url: str, committed_org: tuple[Org, RoleKeys], coach: httpx.Client
) -> None:
    org, keys = committed_org
    session_id = ready_to_hold(coach, org)
    item_id = coach.get(f"/v1/sessions/{session_id}").json()["action_items"][0]["id"]

    responses = race(
        live_api,
        keys.headers(Role.REP),
        [lambda http: http.patch(f"/v1/action-items/{item_id}", json={"status": "completed"})] * PARALLEL,
    )

    assert [r.status_code for r in responses] == [200] * PARALLEL
    assert events_of(committed_url, "action_item.completed", "action_item_id", item_id) == 1
