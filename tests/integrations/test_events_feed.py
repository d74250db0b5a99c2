"""The events feed: emitted by coaching writes, resumable by cursor across restarts, never
skipping an event whose transaction commits after a later one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from salescoach_core.database import session_scope
from salescoach_core.integrations import events
from salescoach_core.roles import Role
from tests.integrations.conftest import NOW
from tests.plugins.auth import Org, RoleKeys


def _emit(engine: Engine, n: int) -> str:
    with session_scope(engine) as session:
        return events.emit(session, "sync.completed", {"n": n}, now=NOW)


def test_feed_cursor_resumes_after_a_restart(committed_engine: Engine, committed_url: str) -> None:
    ids = [_emit(committed_engine, n) for n in range(5)]
    with session_scope(committed_engine) as session:
        events.publish(session)
        first = events.feed(session, after=None, limit=3)
    cursor = first[-1].cursor
    committed_engine.dispose()

    restarted = create_engine(committed_url)
    try:
        ids.append(_emit(restarted, 5))
        with session_scope(restarted) as session:
            events.publish(session)
            rest = events.feed(session, after=cursor, limit=100)
    finally:
        restarted.dispose()

    assert [e.id for e in first + rest] == ids


def _read(engine: Engine, after: str | None) -> list[events.Event]:
    with session_scope(engine) as session:
        events.publish(session)
        return events.feed(session, after=after, limit=10)


def test_an_event_committed_late_is_not_skipped(committed_engine: Engine) -> None:
    slow = Session(committed_engine)
    early = events.emit(slow, "goal.created", {}, now=NOW)  # inserted first, committed last
    late = _emit(committed_engine, 1)

    first = _read(committed_engine, None)
    slow.commit()
    slow.close()
    after = _read(committed_engine, first[-1].cursor)

    assert [e.id for e in first] == [late]
    assert [e.id for e in after] == [early]


def test_coaching_writes_appear_in_the_feed(client: TestClient, org: Org, role_keys: RoleKeys) -> None:
    goal = client.post(
        f"/v1/reps/{org.rep_a1.id}/goals",
        json={
            "kind": "skill",
            "skill": "discovery",
            "period": "2026-11",
            "measurement_plan": "ride-alongs",
            "coach_id": org.manager_a.id,
        },
    )
    assert goal.status_code == 201, goal.text
    client.patch(f"/v1/goals/{goal.json()['id']}", json={"status": "abandoned"})

    page = client.get("/v1/events", params={"limit": 1}, headers=role_keys.headers(Role.INTEGRATION)).json()
    rest = client.get("/v1/events", params={"after": page["next_cursor"]}).json()

    kinds = [(e["type"], e["data"]["goal_id"]) for e in page["items"] + rest["items"]]
    assert kinds == [("goal.created", goal.json()["id"]), ("goal.status_changed", goal.json()["id"])]
    assert rest["items"][0]["data"]["previous_status"] == "active"
    assert client.get("/v1/events", headers=role_keys.headers(Role.MANAGER)).status_code == 403
    assert client.get("/v1/events", params={"after": "!!"}).json()["code"] == "invalid_cursor"


def test_pruning_drops_events_past_the_retention(committed_engine: Engine) -> None:
    _emit(committed_engine, 0)
    emitted_by = datetime.now(UTC)
    with session_scope(committed_engine) as session:
        # Relative to the real clock: a fixed date stops being 30 days after "now" as time passes.
        kept = events.prune_events(session, now=emitted_by + timedelta(days=29), retention_days=30)
        dropped = events.prune_events(session, now=emitted_by + timedelta(days=31), retention_days=30)
    assert (kept, dropped) == (0, 1)


def test_figures_in_events_are_json_numbers_as_in_rest(client: TestClient, org: Org) -> None:
    """One JSON type for money and rates everywhere: a goal's target of 60 calls is the number 60
    in the REST answer and in the event, not the string "60"."""
    goal = client.post(
        f"/v1/reps/{org.rep_a1.id}/goals",
        json={
            "kind": "activity",
            "period": "2026-11",
            "metric": "calls",
            "cadence": "per_period",
            "target": 60,
            "measurement_plan": "calls logged in Salesforce",
            "coach_id": org.manager_a.id,
        },
    )
    assert goal.status_code == 201, goal.text
    data = client.get("/v1/events").json()["items"][-1]["data"]
    assert goal.json()["target"] == 60
    assert data["target"] == 60
    assert isinstance(data["target"], int | float)
    assert type(data["progress"]) is type(goal.json()["progress"])
