"""Who may change coaching records beyond the read scope: nobody coaches themselves, a rep acts
only on their own commitments, and a completion date lies between the item's creation and today
(docs/auth.md, "Coaching writes")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.coaching.conftest import CONSEQUENCE, ok
from tests.plugins.auth import Org, RoleKeys

SKILL_GOAL = {"kind": "skill", "skill": "forecasting", "period": "2026-11", "measurement_plan": "1:1s"}


@pytest.fixture
def managers_own(client: TestClient, org: Org, set_now: Callable[[datetime], None]) -> dict[str, str]:
    """Records about manager_a as the coached rep, made by an admin (the VP's side)."""
    session = ok(
        client.post(f"/v1/reps/{org.manager_a.id}/sessions", json={**CONSEQUENCE, "coach_id": org.vp.id}), 201
    )
    item = ok(
        client.post(
            f"/v1/sessions/{session['id']}/action-items",
            json={"description": "Weekly forecast call", "due_date": "2026-11-20", "owner": "rep"},
        ),
        201,
    )
    goal = ok(
        client.post(f"/v1/reps/{org.manager_a.id}/goals", json={**SKILL_GOAL, "coach_id": org.vp.id}), 201
    )
    return {"session": session["id"], "item": item["id"], "goal": goal["id"]}


SELF_COACHING: list[tuple[str, str, Callable[[Org, dict[str, str]], str], dict[str, Any] | None]] = [
    ("create goal", "POST", lambda org, own: f"/v1/reps/{org.manager_a.id}/goals", SKILL_GOAL),
    ("create session", "POST", lambda org, own: f"/v1/reps/{org.manager_a.id}/sessions", CONSEQUENCE),
    ("change goal", "PATCH", lambda org, own: f"/v1/goals/{own['goal']}", {"status": "abandoned"}),
    ("change terms", "PATCH", lambda org, own: f"/v1/sessions/{own['session']}", {"consequence": "none"}),
    ("hold", "POST", lambda org, own: f"/v1/sessions/{own['session']}/hold", None),
    ("cancel", "POST", lambda org, own: f"/v1/sessions/{own['session']}/cancel", None),
    ("no-show", "POST", lambda org, own: f"/v1/sessions/{own['session']}/no-show", None),
    (
        "add item",
        "POST",
        lambda org, own: f"/v1/sessions/{own['session']}/action-items",
        {"description": "Skip the forecast call"},
    ),
    (
        "change item",
        "PATCH",
        lambda org, own: f"/v1/action-items/{own['item']}",
        {"due_date": "2026-12-31"},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [(method, path, body) for _, method, path, body in SELF_COACHING],
    ids=[name for name, *_ in SELF_COACHING],
)
def test_a_manager_cannot_coach_themselves(
    client: TestClient,
    org: Org,
    role_keys: RoleKeys,
    managers_own: dict[str, str],
    method: str,
    path: Callable[[Org, dict[str, str]], str],
    body: dict[str, Any] | None,
) -> None:
    response = client.request(
        method, path(org, managers_own), json=body, headers=role_keys.headers(Role.MANAGER)
    )

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "cannot_coach_self"


def test_a_manager_acts_on_their_own_records_as_the_rep_does(
    client: TestClient, org: Org, role_keys: RoleKeys, managers_own: dict[str, str]
) -> None:
    as_manager = role_keys.headers(Role.MANAGER)

    acknowledged = client.post(f"/v1/sessions/{managers_own['session']}/acknowledge", headers=as_manager)
    completed = client.patch(
        f"/v1/action-items/{managers_own['item']}", json={"status": "completed"}, headers=as_manager
    )

    assert acknowledged.status_code == 200, acknowledged.text
    assert (completed.status_code, completed.json()["status"]) == (200, "completed")


@pytest.fixture
def rep_session(client: TestClient, org: Org, set_now: Callable[[datetime], None]) -> str:
    session = ok(
        client.post(f"/v1/reps/{org.rep_a1.id}/sessions", json={**CONSEQUENCE, "coach_id": org.manager_a.id}),
        201,
    )
    return str(session["id"])


def new_item(client: TestClient, session_id: str, owner: str) -> str:
    body = {"description": "Send the recap", "due_date": "2026-11-20", "owner": owner}
    return str(ok(client.post(f"/v1/sessions/{session_id}/action-items", json=body), 201)["id"])


def test_a_rep_cannot_complete_a_coach_owned_item(
    client: TestClient, role_keys: RoleKeys, rep_session: str
) -> None:
    coach_item = new_item(client, rep_session, "coach")
    rep_item = new_item(client, rep_session, "rep")
    as_rep = role_keys.headers(Role.REP)

    refused = client.patch(f"/v1/action-items/{coach_item}", json={"status": "completed"}, headers=as_rep)
    allowed = client.patch(f"/v1/action-items/{rep_item}", json={"status": "completed"}, headers=as_rep)
    by_coach = client.patch(
        f"/v1/action-items/{coach_item}",
        json={"status": "completed"},
        headers=role_keys.headers(Role.MANAGER),
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "coach_owned_action_item"
    assert (allowed.status_code, by_coach.status_code) == (200, 200)


def test_a_rep_cannot_cancel_their_own_commitment_but_may_complete_and_reopen_it(
    client: TestClient, role_keys: RoleKeys, rep_session: str
) -> None:
    """Canceling takes a commitment out of willingness_to_change (docs/domain.md): a rep who
    could cancel an overdue item would erase the missed commitment. The coach decides that."""
    item = new_item(client, rep_session, "rep")
    as_rep = role_keys.headers(Role.REP)

    refused = client.patch(f"/v1/action-items/{item}", json={"status": "canceled"}, headers=as_rep)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "coach_cancels_action_items"
    assert "coach" in refused.json()["detail"]
    assert ok(client.get(f"/v1/action-items/{item}"))["status"] == "open"

    completed = client.patch(f"/v1/action-items/{item}", json={"status": "completed"}, headers=as_rep)
    reopened = client.patch(f"/v1/action-items/{item}", json={"status": "open"}, headers=as_rep)
    by_coach = client.patch(
        f"/v1/action-items/{item}", json={"status": "canceled"}, headers=role_keys.headers(Role.MANAGER)
    )
    assert [r.status_code for r in (completed, reopened, by_coach)] == [200, 200, 200]
    assert by_coach.json()["status"] == "canceled"


# The item is created at NOW (2026-11-10 12:00 UTC); completion dates are checked against the
# day it was created and today, both in the org's zone.
@pytest.mark.parametrize(
    ("zone", "clock", "completed_on", "status"),
    [
        ("UTC", "2026-11-12T12:00:00+00:00", "2026-11-09", 422),  # before the item existed
        ("UTC", "2026-11-12T12:00:00+00:00", "2026-11-10", 200),  # the day it was created
        ("UTC", "2026-11-12T12:00:00+00:00", "2026-11-12", 200),  # today
        ("UTC", "2026-11-12T12:00:00+00:00", "2026-11-13", 422),  # tomorrow
        # 2026-11-13 03:00 UTC is still 2026-11-12 (19:00) in Los Angeles: the 13th is the future.
        ("America/Los_Angeles", "2026-11-13T03:00:00+00:00", "2026-11-13", 422),
        ("UTC", "2026-11-13T03:00:00+00:00", "2026-11-13", 200),
    ],
)
def test_a_completion_date_lies_between_the_items_creation_and_today(
    app: FastAPI,
    settings: Settings,
    client: TestClient,
    role_keys: RoleKeys,
    rep_session: str,
    set_now: Callable[[datetime], None],
    zone: str,
    clock: str,
    completed_on: str,
    status: int,
) -> None:
    item = new_item(client, rep_session, "rep")
    app.state.settings = settings.model_copy(update={"org_timezone": zone})
    set_now(datetime.fromisoformat(clock).astimezone(UTC))

    response = client.patch(
        f"/v1/action-items/{item}",
        json={"status": "completed", "completed_on": completed_on},
        headers=role_keys.headers(Role.REP),
    )

    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["code"] == "completed_on_out_of_range"
    else:
        assert response.json()["completed_on"] == completed_on
