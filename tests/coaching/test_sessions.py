"""Sessions and action items: scheduling, what holding needs, the frozen snapshot, consequence
sessions and acknowledgment, closing, items and the 30-day plan."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.coaching.conftest import Team, new_item, new_session, ok
from tests.plugins.database import statements_on
from tests.plugins.factories import Factory


def test_holding_without_action_item_or_follow_up_is_422_naming_what_is_missing(
    client: TestClient, team: Team
) -> None:
    session = new_session(client, team.alice)
    both = client.post(f"/v1/sessions/{session['id']}/hold")
    assert both.status_code == 422
    assert both.json()["code"] == "action_item_and_follow_up_required"
    assert both.json()["missing"] == ["action_item_with_due_date", "follow_up"]
    assert "action item with a due date" in both.json()["detail"]
    assert "follow-up" in both.json()["detail"]

    new_item(client, session["id"], due_date=None)  # no due date: does not count
    only_follow_up = client.post(
        f"/v1/sessions/{session['id']}/hold", json={"follow_up_at": "2026-11-24T10:00:00Z"}
    )
    assert only_follow_up.json()["code"] == "action_item_with_due_date_required"

    new_item(client, session["id"])
    no_follow_up = client.post(f"/v1/sessions/{session['id']}/hold")
    assert no_follow_up.status_code == 422
    assert no_follow_up.json()["code"] == "follow_up_required"
    assert no_follow_up.json()["missing"] == ["follow_up"]

    held = ok(
        client.post(f"/v1/sessions/{session['id']}/hold", json={"follow_up_at": "2026-11-24T10:00:00Z"})
    )
    assert held["status"] == "held"


def test_holding_a_developmental_session_freezes_the_scorecard(
    client: TestClient, team: Team, factory: Factory
) -> None:
    factory.task(team.alice, subtype="Call", completed=datetime(2026, 11, 2, 9, tzinfo=UTC))
    session = new_session(
        client,
        team.alice,
        objectives="Lift starts",
        focus_behavior="Book two discovery calls a day",
        what_if_scenarios=[{"change": {"starts": "+2"}, "projected_monthly_delta": 12000}],
        follow_up_at="2026-11-24T10:00:00Z",
    )
    new_item(client, session["id"])
    held = ok(
        client.post(
            f"/v1/sessions/{session['id']}/hold",
            json={
                "rep_perspective": "Too much admin",
                "obstacles": "CRM hygiene",
                "way_forward": "Block mornings",
            },
        )
    )
    snapshot = held["scorecard_snapshot"]
    assert snapshot["period"] == "2026-11"
    assert snapshot["metrics"]["calls"] == 1
    assert held["rep_perspective"] == "Too much admin"
    assert held["what_if_scenarios"][0]["projected_monthly_delta"] == 12000
    # The snapshot is frozen: later activity does not change it, and the session is closed.
    factory.task(team.alice, subtype="Call", completed=datetime(2026, 11, 3, 9, tzinfo=UTC))
    again = ok(client.get(f"/v1/sessions/{session['id']}"))
    assert again["scorecard_snapshot"] == snapshot
    closed = client.patch(f"/v1/sessions/{session['id']}", json={"notes": "late"})
    assert closed.status_code == 409
    assert closed.json()["code"] == "session_closed"


def test_consequence_session_states_the_standard_and_is_acknowledged(client: TestClient, team: Team) -> None:
    missing = client.post(
        f"/v1/reps/{team.alice.id}/sessions",
        json={
            "mode": "consequence",
            "scheduled_at": "2026-11-10T10:00:00Z",
            "standard_metric": "calls",
            "coach_id": team.maya.id,
        },
    )
    assert missing.status_code == 422
    assert "standard_threshold" in missing.json()["detail"]
    assert "deadline" in missing.json()["detail"]

    wrong_mode = client.post(
        f"/v1/reps/{team.alice.id}/sessions",
        json={"scheduled_at": "2026-11-10T10:00:00Z", "consequence": "PIP", "coach_id": team.maya.id},
    )
    assert wrong_mode.status_code == 422
    assert wrong_mode.json()["code"] == "invalid_session"

    session = new_session(
        client, team.alice, mode="consequence", standard_metric="calls", standard_threshold=50,
        deadline="2026-12-15", consequence="Formal performance plan",
    )  # fmt: skip
    assert session["standard_threshold"] == 50
    acknowledged = ok(client.post(f"/v1/sessions/{session['id']}/acknowledge"))
    assert acknowledged["acknowledged_at"] is not None
    assert acknowledged["acknowledged_by"].startswith("api_key:")

    developmental = new_session(client, team.alice)
    refused = client.post(f"/v1/sessions/{developmental['id']}/acknowledge")
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_a_consequence_session"


def test_cancel_and_no_show_close_a_scheduled_session_once(client: TestClient, team: Team) -> None:
    first = new_session(client, team.alice)
    assert ok(client.post(f"/v1/sessions/{first['id']}/cancel"))["status"] == "canceled"
    assert client.post(f"/v1/sessions/{first['id']}/no-show").status_code == 409
    assert (
        client.post(f"/v1/sessions/{first['id']}/action-items", json={"description": "x"}).status_code == 409
    )
    second = new_session(client, team.alice)
    assert ok(client.post(f"/v1/sessions/{second['id']}/no-show"))["status"] == "no_show"
    listed = ok(client.get(f"/v1/reps/{team.alice.id}/sessions", params={"status": "no_show"}))
    assert [s["id"] for s in listed["items"]] == [second["id"]]


def test_action_items_list_by_status_and_the_plan_covers_30_days(client: TestClient, team: Team) -> None:
    session = new_session(client, team.alice)
    overdue = new_item(client, session["id"], due_date="2026-11-05")
    soon = new_item(client, session["id"], due_date="2026-11-20")
    later = new_item(client, session["id"], due_date="2026-12-09")  # day 29 from 2026-11-10
    outside = new_item(client, session["id"], due_date="2026-12-10")
    coach = new_item(client, session["id"], owner="coach", due_date="2026-11-12")
    assert coach["writeback"]["status"] == "not_mirrored"
    assert soon["writeback"]["status"] == "pending"

    done = ok(client.patch(f"/v1/action-items/{soon['id']}", json={"status": "completed"}))
    assert done["completed_on"] == "2026-11-10"
    assert done["completed_source"] == "api"

    open_items = ok(client.get(f"/v1/reps/{team.alice.id}/action-items", params={"status": "open"}))["items"]
    assert {i["id"] for i in open_items} == {overdue["id"], later["id"], outside["id"], coach["id"]}
    page = ok(client.get(f"/v1/reps/{team.alice.id}/action-items", params={"limit": 2}))
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = ok(client.get(f"/v1/reps/{team.alice.id}/action-items", params={"cursor": page["next_cursor"]}))
    assert len(rest["items"]) == 3

    plan = ok(client.get(f"/v1/reps/{team.alice.id}/plan"))
    assert plan["from"] == "2026-11-10"
    assert plan["to"] == "2026-12-10"
    assert [i["id"] for i in plan["overdue"]] == [overdue["id"]]
    assert [i["id"] for i in plan["items"]] == [coach["id"], soon["id"], later["id"]]


def test_a_changed_item_gets_a_new_version_to_write_back(client: TestClient, team: Team) -> None:
    session = new_session(client, team.alice)
    item = new_item(client, session["id"])
    assert item["writeback"]["version"] == 1
    changed = ok(client.patch(f"/v1/action-items/{item['id']}", json={"due_date": "2026-11-27"}))
    assert changed["writeback"]["version"] == 2
    assert changed["writeback"]["status"] == "pending"
    canceled = ok(client.patch(f"/v1/action-items/{item['id']}", json={"status": "canceled"}))
    assert canceled["writeback"]["version"] == 3


def test_listing_sessions_loads_their_action_items_in_a_fixed_number_of_queries(
    client: TestClient, team: Team, connection: Connection
) -> None:
    def add_sessions(count: int) -> dict[str, set[str]]:
        created = {}
        for _ in range(count):
            session = new_session(client, team.alice)
            created[session["id"]] = {new_item(client, session["id"])["id"] for _ in range(2)}
        return created

    def list_all() -> tuple[dict[str, set[str]], int]:
        with statements_on(connection) as statements:
            page = ok(client.get(f"/v1/reps/{team.alice.id}/sessions", params={"limit": 200}))
        listed = {s["id"]: {i["id"] for i in s["action_items"]} for s in page["items"]}
        return listed, len(statements)

    expected = add_sessions(2)
    listed, with_two = list_all()
    assert listed == expected
    expected |= add_sessions(10)
    listed, with_twelve = list_all()
    assert listed == expected
    assert with_twelve == with_two


def test_the_plan_lists_open_items_without_a_due_date_as_undated(client: TestClient, team: Team) -> None:
    session = new_session(client, team.alice)
    dated = new_item(client, session["id"], due_date="2026-11-20")
    undated = new_item(client, session["id"], due_date=None, description="Shadow a discovery call")
    done = new_item(client, session["id"], due_date=None, description="Read the playbook")
    ok(client.patch(f"/v1/action-items/{done['id']}", json={"status": "completed"}))
    canceled = new_item(client, session["id"], due_date=None, description="Dropped")
    ok(client.patch(f"/v1/action-items/{canceled['id']}", json={"status": "canceled"}))

    plan = ok(client.get(f"/v1/reps/{team.alice.id}/plan"))
    assert [i["id"] for i in plan["items"]] == [dated["id"]]
    assert [i["id"] for i in plan["undated"]] == [undated["id"]]


def test_a_session_without_a_coach_from_a_caller_without_a_salesforce_user_is_a_422_naming_coach_id(
    client: TestClient, team: Team, admin_key: str
) -> None:
    admin = {"Authorization": f"Bearer {admin_key}"}
    body = {"scheduled_at": "2026-11-12T10:00:00Z", "duration_minutes": 30}
    response = client.post(f"/v1/reps/{team.alice.id}/sessions", json=body, headers=admin)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "coach_id_required"
    assert [e["loc"] for e in problem["errors"]] == [["body", "coach_id"]]
    assert ok(client.get(f"/v1/reps/{team.alice.id}/sessions", headers=admin))["items"] == []

    named = ok(
        client.post(
            f"/v1/reps/{team.alice.id}/sessions", json={**body, "coach_id": team.maya.id}, headers=admin
        ),
        201,
    )
    assert named["coach_id"] == team.maya.id
    cleared = client.patch(f"/v1/sessions/{named['id']}", json={"coach_id": None}, headers=admin)
    assert cleared.status_code == 422, cleared.text
    assert cleared.json()["code"] == "coach_id_required"
    assert ok(client.get(f"/v1/sessions/{named['id']}", headers=admin))["coach_id"] == team.maya.id


def test_a_session_keeps_its_time_and_duration_null_is_422_not_500(client: TestClient, team: Team) -> None:
    session = new_session(client, team.alice)
    for field in ("scheduled_at", "duration_minutes"):
        answer = client.patch(f"/v1/sessions/{session['id']}", json={field: None})
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_session"
        assert answer.json()["errors"][0]["loc"] == ["body", field]
    after = ok(client.get(f"/v1/sessions/{session['id']}"))
    assert (after["scheduled_at"], after["duration_minutes"]) == ("2026-11-10T10:00:00Z", 30)
