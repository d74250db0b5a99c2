"""Goals: kinds and validation, baseline and progress from the scorecard, the per-period limit,
status history, and the automatic close at period end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from salescoach_core.coaching import goals
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.models import CoachingGoal, WritebackOutbox
from salescoach_core.settings import Settings
from tests.coaching.conftest import Team, ok
from tests.plugins.factories import Factory


def activity_goal(client: TestClient, rep_id: str, **fields: object) -> dict[str, Any]:
    body = {
        "kind": "activity",
        "period": "2026-11",
        "metric": "calls",
        "cadence": "per_period",
        "target": 10,
        "measurement_plan": "Calls logged in Salesforce",
        **fields,
    }
    return ok(client.post(f"/v1/reps/{rep_id}/goals", json=body), 201)  # type: ignore[no-any-return]


def test_activity_goal_has_baseline_from_previous_month_and_progress_so_far(
    client: TestClient, team: Team, factory: Factory
) -> None:
    for day in (3, 9, 21):  # October: 3 calls
        factory.task(team.alice, subtype="Call", completed=datetime(2026, 10, day, 9, tzinfo=UTC))
    factory.task(team.alice, subtype="Call", completed=datetime(2026, 11, 2, 9, tzinfo=UTC))  # November: 1
    factory.task(team.alice, subtype="Email", completed=datetime(2026, 11, 3, 9, tzinfo=UTC))

    goal = activity_goal(client, team.alice.id)

    assert goal["baseline"] == 3
    assert goal["progress"] == 1
    assert goal["status"] == "active"
    assert goal["writeback"]["status"] == "pending"  # activity goals become Tasks


def test_per_week_progress_is_the_weekly_rate_over_the_elapsed_part_of_the_period(
    client: TestClient, team: Team, factory: Factory
) -> None:
    # 2026-11-10 12:00 is 9.5 days into November: 4 calls -> 4 * 7 / 9.5 = 2.947...
    for day in (2, 3, 4, 9):
        factory.task(team.alice, subtype="Call", completed=datetime(2026, 11, day, 9, tzinfo=UTC))
    goal = activity_goal(client, team.alice.id, cadence="per_week", target=5)
    assert goal["progress"] == round(4 * 7 / 9.5, 4)


def test_third_active_goal_is_refused_with_409_naming_the_active_ones(client: TestClient, team: Team) -> None:
    first = activity_goal(client, team.alice.id)
    second = ok(
        client.post(
            f"/v1/reps/{team.alice.id}/goals",
            json={
                "kind": "skill",
                "period": "2026-Q4",
                "skill": "discovery",
                "measurement_plan": "Ride-alongs",
            },
        ),
        201,
    )
    response = client.post(
        f"/v1/reps/{team.alice.id}/goals",
        json={"kind": "outcome", "period": "2026-11", "metric": "win_rate", "target": 0.3,
              "measurement_plan": "Win rate on the scorecard"},
    )  # fmt: skip
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "goal_limit_reached"
    assert {g["id"] for g in problem["active_goals"]} == {first["id"], second["id"]}
    assert first["id"] in problem["detail"]
    assert second["id"] in problem["detail"]
    # Another rep, or a period that does not overlap, is not limited.
    activity_goal(client, team.bob.id)
    activity_goal(client, team.alice.id, period="2027-01")


def test_abandoning_frees_a_slot_and_every_status_change_is_in_the_history(
    client: TestClient, team: Team
) -> None:
    first = activity_goal(client, team.alice.id)
    activity_goal(client, team.alice.id, metric="emails")
    abandoned = ok(
        client.patch(f"/v1/goals/{first['id']}", json={"status": "abandoned", "reason": "wrong focus"})
    )
    assert abandoned["status"] == "abandoned"
    activity_goal(client, team.alice.id, metric="meetings")

    history = ok(client.get(f"/v1/goals/{first['id']}/history"))["items"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "active"),
        ("active", "abandoned"),
    ]
    assert history[1]["reason"] == "wrong focus"
    response = client.patch(f"/v1/goals/{first['id']}", json={"target": 3})
    assert response.status_code == 409
    assert response.json()["code"] == "goal_status_transition_refused"
    listed = ok(client.get(f"/v1/reps/{team.alice.id}/goals"))["items"]
    assert len(listed) == 3


def test_skill_goal_takes_a_coach_rating_and_closes_by_hand(client: TestClient, team: Team) -> None:
    goal = ok(
        client.post(
            f"/v1/reps/{team.alice.id}/goals",
            json={"kind": "skill", "period": "2026-11", "skill": "objection handling",
                  "measurement_plan": "Coach rates two recorded calls", "coach_rating": 2},
        ),
        201,
    )  # fmt: skip
    assert goal["writeback"]["status"] == "not_mirrored"
    rated = ok(client.patch(f"/v1/goals/{goal['id']}", json={"coach_rating": 4}))
    assert rated["coach_rating"] == 4
    bad = client.patch(f"/v1/goals/{goal['id']}", json={"coach_rating": 6})
    assert bad.status_code == 422
    closed = ok(client.patch(f"/v1/goals/{goal['id']}", json={"status": "achieved"}))
    assert closed["status"] == "achieved"


def test_invalid_goals_say_what_is_wrong(client: TestClient, team: Team) -> None:
    cases = [
        {"kind": "activity", "period": "2026-11", "metric": "win_rate", "target": 1, "measurement_plan": "x"},
        {"kind": "outcome", "period": "2026-11", "metric": "win_rate", "measurement_plan": "x"},
        {"kind": "skill", "period": "2026-11", "measurement_plan": "x"},
    ]
    for body in cases:
        response = client.post(f"/v1/reps/{team.alice.id}/goals", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_goal"


def test_activity_and_outcome_goals_close_at_period_end_from_the_data(
    client: TestClient, team: Team, factory: Factory, db_session: Session, settings: Settings,
    set_now: Callable[[datetime], None],
) -> None:  # fmt: skip
    hit = activity_goal(client, team.alice.id, target=2)
    miss = activity_goal(client, team.bob.id, target=2)
    cycle = ok(
        client.post(
            f"/v1/reps/{team.bob.id}/goals",
            json={"kind": "outcome", "period": "2026-11", "metric": "sales_cycle_days", "target": 30,
                  "measurement_plan": "Days from creation to won"},
        ),
        201,
    )  # fmt: skip
    factory.task(team.alice, subtype="Call", completed=datetime(2026, 11, 12, tzinfo=UTC))
    factory.task(team.alice, subtype="Call", completed=datetime(2026, 11, 20, tzinfo=UTC))
    factory.task(team.bob, subtype="Call", completed=datetime(2026, 11, 20, tzinfo=UTC))
    # Bob wins one deal in 20 days: 20 <= 30, achieved (lower is better).
    factory.opportunity(team.bob, created=datetime(2026, 11, 1, tzinfo=UTC), amount=100, won=True,
                        close=datetime(2026, 11, 21).date())  # fmt: skip
    config = CoachingConfig.from_settings(settings)

    assert goals.close_due_goals(db_session, now=datetime(2026, 11, 30, 23, tzinfo=UTC), config=config) == []
    closed = goals.close_due_goals(db_session, now=datetime(2026, 12, 1, 0, 5, tzinfo=UTC), config=config)
    assert len(closed) == 3

    status = {str(g.id): (g.status, g.progress) for g in db_session.exec(select(CoachingGoal))}
    assert status[hit["id"]] == ("achieved", Decimal(2))
    assert status[miss["id"]] == ("missed", Decimal(1))
    assert status[cycle["id"]] == ("achieved", Decimal(20))
    history = ok(client.get(f"/v1/goals/{miss['id']}/history"))["items"]
    assert history[-1]["to_status"] == "missed"
    assert history[-1]["changed_by"] == "system"
    assert "ended" in history[-1]["reason"]
    # The activity goals' Tasks are updated (closed) too.
    outbox = {row.external_id: row.version for row in db_session.exec(select(WritebackOutbox))}
    assert outbox[f"goal-{hit['id']}"] == 2
    assert f"goal-{cycle['id']}" not in outbox
