"""Optimistic concurrency on goals, sessions and action items (docs/api.md, "Concurrent edits"):
every answer about one record carries its `ETag`, the record's revision in quotes; a write
whose `If-Match` names another revision answers 412 `precondition_failed` and changes nothing;
of writers racing with the same tag exactly one wins."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session

from salescoach_core.coaching import goals
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.refresh import complete_items_from_tasks
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.coaching.conftest import CONSEQUENCE, Team, new_item, new_session, ok
from tests.coaching.test_concurrent_transitions import race
from tests.plugins.auth import Org, RoleKeys
from tests.plugins.factories import Factory


def tag(revision: int) -> str:
    """The ETag of a record at `revision`: a new record is at 1, each change adds 1."""
    return f'"{revision}"'


def skill_goal(client: TestClient, team: Team) -> dict[str, Any]:
    body = {
        "kind": "skill",
        "skill": "discovery",
        "period": "2026-11",
        "measurement_plan": "Ride-alongs",
        "coach_id": team.maya.id,
    }
    return ok(client.post(f"/v1/reps/{team.alice.id}/goals", json=body), 201)  # type: ignore[no-any-return]


def test_each_answer_about_one_record_carries_its_revision_as_etag(client: TestClient, team: Team) -> None:
    created = client.post(
        f"/v1/reps/{team.alice.id}/goals",
        json={"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "Rides",
              "coach_id": team.maya.id},
    )  # fmt: skip
    goal_url = f"/v1/goals/{created.json()['id']}"
    assert (created.status_code, created.headers["etag"]) == (201, tag(1))
    assert client.get(goal_url).headers["etag"] == tag(1)
    edited = client.patch(goal_url, json={"measurement_plan": "Two rides"}, headers={"If-Match": tag(1)})
    assert (edited.status_code, edited.headers["etag"]) == (200, tag(2))
    assert client.get(goal_url).headers["etag"] == tag(2)
    # If-Match is optional: a write without it succeeds and is a new revision all the same.
    blind = client.patch(goal_url, json={"measurement_plan": "Three rides"})
    assert (blind.status_code, blind.headers["etag"]) == (200, tag(3))

    session = client.post(
        f"/v1/reps/{team.alice.id}/sessions",
        json={"scheduled_at": "2026-11-10T10:00:00Z", "coach_id": team.maya.id},
    )
    session_url = f"/v1/sessions/{session.json()['id']}"
    assert (session.status_code, session.headers["etag"]) == (201, tag(1))
    item = client.post(f"{session_url}/action-items", json={"description": "Call", "due_date": "2026-11-20"})
    item_url = f"/v1/action-items/{item.json()['id']}"
    assert (item.status_code, item.headers["etag"]) == (201, tag(1))
    # An item is a record of its own: adding one is no change to the session's own fields.
    assert client.get(session_url).headers["etag"] == tag(1)
    assert client.patch(session_url, json={"notes": "Agenda"}).headers["etag"] == tag(2)
    assert client.get(session_url).headers["etag"] == tag(2)
    assert client.get(item_url).headers["etag"] == tag(1)
    assert client.patch(item_url, json={"status": "completed"}).headers["etag"] == tag(2)
    assert client.get(item_url).headers["etag"] == tag(2)
    # Lists carry no tag: a tag versions one record.
    assert "etag" not in client.get(f"/v1/reps/{team.alice.id}/goals").headers


Write = tuple[str, str, dict[str, Any] | None]
"""(method, path suffix, JSON body) of a conditional write."""


def hold_ready(client: TestClient, team: Team) -> str:
    session = new_session(client, team.alice, **CONSEQUENCE)
    new_item(client, session["id"])
    return f"/v1/sessions/{session['id']}"


SETUPS: dict[str, Callable[[TestClient, Team], str]] = {
    "goal": lambda client, team: f"/v1/goals/{skill_goal(client, team)['id']}",
    "session": lambda client, team: f"/v1/sessions/{new_session(client, team.alice)['id']}",
    "consequence session": hold_ready,
    "action item": lambda client, team: (
        f"/v1/action-items/{new_item(client, new_session(client, team.alice)['id'])['id']}"
    ),
}
ANOTHER_EDIT: dict[str, dict[str, Any]] = {
    "goal": {"measurement_plan": "Changed in another tab"},
    "session": {"notes": "Changed in another tab"},
    "consequence session": {"notes": "Changed in another tab"},
    "action item": {"description": "Changed in another tab"},
}
CONDITIONAL_WRITES: list[tuple[str, Write]] = [
    ("goal", ("PATCH", "", {"coach_rating": 4})),
    ("goal", ("PATCH", "", {"status": "abandoned"})),
    ("session", ("PATCH", "", {"objectives": "Lift starts"})),
    ("session", ("POST", "/cancel", None)),
    ("session", ("POST", "/no-show", None)),
    ("consequence session", ("POST", "/hold", None)),
    ("consequence session", ("POST", "/acknowledge", None)),
    ("action item", ("PATCH", "", {"status": "completed"})),
]


@pytest.mark.parametrize(("kind", "write"), CONDITIONAL_WRITES, ids=lambda v: str(v))
def test_a_write_with_a_stale_tag_is_412_and_changes_nothing_and_a_fresh_one_succeeds(
    client: TestClient, team: Team, kind: str, write: Write
) -> None:
    url = SETUPS[kind](client, team)
    method, suffix, body = write
    read = client.get(url)
    assert read.headers["etag"] == tag(1)
    # Another tab changes the record after this one read it.
    assert client.patch(url, json=ANOTHER_EDIT[kind]).headers["etag"] == tag(2)
    before = client.get(url)

    stale = client.request(method, url + suffix, json=body, headers={"If-Match": read.headers["etag"]})

    assert stale.status_code == 412, stale.text
    problem = stale.json()
    assert (problem["code"], problem["title"], problem["type"]) == (
        "precondition_failed",
        "Precondition failed",
        "/problems/precondition_failed",
    )
    assert "GET" in problem["detail"]
    assert tag(1) in problem["detail"]
    after = client.get(url)
    assert (after.json(), after.headers["etag"]) == (before.json(), tag(2))

    fresh = client.request(method, url + suffix, json=body, headers={"If-Match": before.headers["etag"]})
    assert (fresh.status_code, fresh.headers["etag"]) == (200, tag(3)), fresh.text
    assert client.get(url).headers["etag"] == tag(3)


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ("*", 200),  # any current revision
        (f"{tag(7)}, {tag(2)}", 200),  # one of the list is current
        (f"W/{tag(2)}", 412),  # If-Match compares strongly: a weak tag never matches
        ('"not-ours"', 412),  # a well-formed tag the API never sent
    ],
)
def test_if_match_star_lists_and_tags_that_cannot_match(
    client: TestClient, team: Team, if_match: str, status: int
) -> None:
    url = f"/v1/goals/{skill_goal(client, team)['id']}"
    client.patch(url, json={"coach_rating": 2})  # now at revision 2
    answer = client.patch(url, json={"coach_rating": 5}, headers={"If-Match": if_match})
    assert answer.status_code == status, answer.text
    assert client.get(url).json()["coach_rating"] == (5 if status == 200 else 2)


@pytest.mark.parametrize("if_match", ["2", "undefined", '"2', '"2" "3"', "", '*, "2"', '"a b"'])
def test_a_malformed_if_match_is_400_and_changes_nothing(
    client: TestClient, team: Team, if_match: str
) -> None:
    url = f"/v1/goals/{skill_goal(client, team)['id']}"
    answer = client.patch(url, json={"coach_rating": 5}, headers={"If-Match": if_match})
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["code"] == "invalid_if_match"
    assert "ETag" in problem["detail"]
    # Located as FastAPI locates a header parameter (docs/errors.md).
    assert problem["errors"] == [
        {"loc": ["header", "if-match"], "msg": problem["detail"], "type": "invalid_if_match"}
    ]
    after = client.get(url)
    assert (after.json()["coach_rating"], after.headers["etag"]) == (None, tag(1))


def test_a_task_closed_in_salesforce_and_a_goal_closed_at_period_end_are_new_revisions(
    client: TestClient, team: Team, factory: Factory, db_session: Session, settings: Settings
) -> None:
    """What the data changes about a record a coach may have open makes their tag stale too."""
    session = new_session(client, team.alice)
    item = new_item(client, session["id"])
    task = factory.task(team.alice, completed=datetime(2026, 11, 12, tzinfo=UTC))
    task.external_id = f"ai-{item['id']}"
    db_session.add(task)
    db_session.flush()
    config = CoachingConfig.from_settings(settings)
    assert complete_items_from_tasks(db_session, now=datetime(2026, 11, 13, tzinfo=UTC), config=config) == 1
    completed = client.get(f"/v1/action-items/{item['id']}")
    assert (completed.json()["status"], completed.headers["etag"]) == ("completed", tag(2))

    goal = ok(
        client.post(
            f"/v1/reps/{team.alice.id}/goals",
            json={"kind": "activity", "period": "2026-11", "metric": "calls", "target": 1,
                  "measurement_plan": "Calls logged", "coach_id": team.maya.id},
        ),
        201,
    )  # fmt: skip
    closed = goals.close_due_goals(db_session, now=datetime(2026, 12, 1, 0, 5, tzinfo=UTC), config=config)
    assert [str(g.id) for g in closed] == [goal["id"]]
    after = client.get(f"/v1/goals/{goal['id']}")
    assert (after.json()["status"], after.headers["etag"]) == ("missed", tag(2))


CONDITIONAL_OPERATIONS = {
    "updateGoal",
    "updateSession",
    "holdSession",
    "cancelSession",
    "markSessionNoShow",
    "acknowledgeSession",
    "updateActionItem",
}
TAGGED_OPERATIONS = {
    "getGoal": "200",
    "getSession": "200",
    "getActionItem": "200",
    "createGoal": "201",
    "createSession": "201",
    "createActionItem": "201",
} | dict.fromkeys(CONDITIONAL_OPERATIONS, "200")


def test_the_openapi_document_shows_etags_if_match_and_412_where_they_apply(app: FastAPI) -> None:
    operations = {
        operation["operationId"]: operation
        for item in app.openapi()["paths"].values()
        for operation in item.values()
    }
    for operation_id, success in TAGGED_OPERATIONS.items():
        operation = operations[operation_id]
        assert "ETag" in operation["responses"][success].get("headers", {}), operation_id
        if_match = [p for p in operation.get("parameters", []) if p["name"] == "If-Match"]
        if operation_id not in CONDITIONAL_OPERATIONS:
            assert (if_match, operation["responses"].get("412")) == ([], None), operation_id
            continue
        assert [(p["in"], p["required"]) for p in if_match] == [("header", False)], operation_id
        assert "412" in if_match[0]["description"], operation_id
        assert operation["responses"]["412"]["x-codes"] == ["precondition_failed"], operation_id
        assert "invalid_if_match" in operation["responses"]["400"]["x-codes"], operation_id
    # Nothing else takes If-Match or answers 412.
    others = {
        operation_id
        for operation_id, operation in operations.items()
        if "412" in operation["responses"]
        or any(p["name"] == "If-Match" for p in operation.get("parameters", []))
    }
    assert others == CONDITIONAL_OPERATIONS


@pytest.fixture
def coach(live_api: str, committed_org: tuple[Org, RoleKeys]) -> httpx.Client:
    _, keys = committed_org
    return httpx.Client(base_url=live_api, headers=keys.headers(Role.MANAGER), timeout=60)


def test_of_ten_writers_racing_with_one_tag_exactly_one_wins(
    live_api: str, committed_org: tuple[Org, RoleKeys], coach: httpx.Client
) -> None:
    org, keys = committed_org
    goal = coach.post(
        f"/v1/reps/{org.rep_a1.id}/goals",
        json={"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "rides"},
    )
    url = f"/v1/goals/{goal.json()['id']}"
    etag = goal.headers["etag"]

    def edit(n: int) -> Callable[[httpx.Client], httpx.Response]:
        return lambda http: http.patch(
            url, json={"measurement_plan": f"plan {n}"}, headers={"If-Match": etag}
        )

    responses = race(live_api, keys.headers(Role.MANAGER), [edit(n) for n in range(10)])

    assert sorted(r.status_code for r in responses) == [200] + [412] * 9
    [winner] = [r for r in responses if r.status_code == 200]
    final = coach.get(url)
    assert final.json()["measurement_plan"] == winner.json()["measurement_plan"]
    assert final.headers["etag"] == winner.headers["etag"] == tag(2)


def test_two_writers_that_both_read_the_tag_before_either_writes_cannot_both_win(
    live_api: str, committed_url: str, committed_org: tuple[Org, RoleKeys], coach: httpx.Client
) -> None:
    """Both requests have read the record and are waiting to write when the row is released, so
    a check made on what they read, apart from the write, would let both through."""
    org, _ = committed_org
    session = coach.post(
        f"/v1/reps/{org.rep_a1.id}/sessions",
        json={"scheduled_at": "2026-11-10T10:00:00Z"},
    )
    session_id = session.json()["id"]
    etag = session.headers["etag"]
    engine = create_engine(committed_url)
    try:
        with engine.connect() as locker, ThreadPoolExecutor(2) as pool:
            locker.execute(
                text("SELECT 1 FROM coaching_session WHERE id = :id FOR UPDATE"), {"id": session_id}
            )
            futures = [
                pool.submit(
                    coach.patch,
                    f"/v1/sessions/{session_id}",
                    json={"notes": f"tab {n}"},
                    headers={"If-Match": etag},
                )
                for n in range(2)
            ]
            wait_until_waiting_for_locks(engine, count=2)
            locker.commit()
            responses = [f.result() for f in futures]
    finally:
        engine.dispose()

    assert sorted(r.status_code for r in responses) == [200, 412]
    [winner] = [r for r in responses if r.status_code == 200]
    assert coach.get(f"/v1/sessions/{session_id}").json()["notes"] == winner.json()["notes"]


def wait_until_waiting_for_locks(engine: Any, *, count: int) -> None:
    """Until `count` connections to the (module's own) database wait for a lock: the first
    request waits for the test's lock, the second for the first (the row's tuple lock)."""
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting >= count:
                return
            watcher.rollback()
            time.sleep(0.02)
    raise AssertionError(f"{count} requests did not reach the locked row")
