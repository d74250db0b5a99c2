"""Goals: kinds and validation, baseline and progress from the scorecard, the per-period limit,
status history, and the automatic close at period end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from salescoach_core.api_keys import create_api_key
from salescoach_core.coaching import goal_progress, goals
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.models import CoachingGoal, WritebackOutbox
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.coaching.conftest import Team, ok
from tests.plugins.factories import Factory


@pytest.fixture(autouse=True)
def as_maya(client: TestClient, team: Team, db_session: Session) -> None:
    """Goals here are created with an admin key acting for Maya, so their coach defaults to her."""
    key = create_api_key(db_session, name="maya admin", role=Role.ADMIN, sf_user_id=team.maya.id).plaintext
    client.headers["Authorization"] = f"Bearer {key}"


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


def test_goal_bounds_that_are_exactly_a_month_make_that_month_and_its_baseline_the_month_before(
    client: TestClient, team: Team, factory: Factory
) -> None:
    # October 1, 9 and 21: three calls in October, two in the 30 days before 1 November.
    for day in (1, 9, 21):
        factory.task(team.alice, subtype="Call", completed=datetime(2026, 10, day, 9, tzinfo=UTC))

    goal = activity_goal(client, team.alice.id, period=None, period_from="2026-11-01", period_to="2026-12-01")

    assert goal["period"] == "2026-11"
    assert goal["baseline"] == 3


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


def _stages(factory: Factory) -> None:
    factory.stage("Prospecting", sort_order=10)
    factory.stage("Qualification", sort_order=20)
    factory.stage("Proposal", sort_order=30)
    factory.stage("Negotiation", sort_order=40)
    factory.stage("Closed Won", sort_order=50, won=True)
    factory.stage("Closed Lost", sort_order=60, closed=True)
    factory.stage("Retired", sort_order=15, active=False)


def _walk(factory: Factory, rep: Any, *steps: tuple[str, int, int]) -> None:
    """An opportunity of `rep` visiting each (stage, month, day) of 2026 in turn, at noon UTC."""
    first = datetime(2026, steps[0][1], steps[0][2], 12, tzinfo=UTC)
    opportunity = factory.opportunity(rep, created=first, amount=100)
    for stage, month, day in steps:
        factory.history(opportunity, stage=stage, at=datetime(2026, month, day, 12, tzinfo=UTC))


def stage_goal(client: TestClient, rep_id: str, stage: str, target: float) -> dict[str, Any]:
    body = {"kind": "outcome", "period": "2026-11", "metric": "stage_conversion", "stage": stage,
            "target": target, "measurement_plan": "Qualification exits that move on"}  # fmt: skip
    return ok(client.post(f"/v1/reps/{rep_id}/goals", json=body), 201)  # type: ignore[no-any-return]


def test_stage_conversion_goal_baseline_progress_and_close(
    client: TestClient, team: Team, factory: Factory, db_session: Session, settings: Settings
) -> None:
    _stages(factory)
    alice = team.alice
    # October, Qualification (baseline). Entered Q in October: o1 o2 o3 o4; left: o1 o2 o3;
    # converted: o1 (on to Proposal), o3 (won). 2 / 3.
    _walk(factory, alice, ("Prospecting", 10, 1), ("Qualification", 10, 3), ("Proposal", 10, 10))  # o1
    _walk(factory, alice, ("Qualification", 10, 5), ("Closed Lost", 10, 8))  # o2
    _walk(factory, alice, ("Qualification", 10, 6), ("Closed Won", 10, 9))  # o3
    _walk(factory, alice, ("Qualification", 10, 20))  # o4: still in Q
    # First entered Q in September: not October's, though it left in October.
    _walk(factory, alice, ("Qualification", 9, 25), ("Proposal", 10, 2))
    # November so far (progress). Entered and left Q: n1 n2 n3 n4; converted: n3, n4. 2 / 4.
    _walk(factory, alice, ("Qualification", 11, 2), ("Closed Lost", 11, 4))  # n1: lost
    # n2: back to Prospecting, then lost.
    _walk(factory, alice, ("Qualification", 11, 3), ("Prospecting", 11, 5), ("Closed Lost", 11, 7))
    _walk(factory, alice, ("Qualification", 11, 3), ("Negotiation", 11, 6))  # n3: skips Proposal
    # n4: the repeated Q row (an amount change) is one visit.
    _walk(factory, alice, ("Qualification", 11, 4), ("Qualification", 11, 5), ("Proposal", 11, 8))
    # Bob's conversions are not Alice's.
    _walk(factory, team.bob, ("Qualification", 11, 2), ("Proposal", 11, 3))

    qualification = stage_goal(client, alice.id, "Qualification", 0.7)
    assert qualification["stage"] == "Qualification"
    assert qualification["metric"] == "stage_conversion"
    assert qualification["baseline"] == round(2 / 3, 4)
    assert qualification["progress"] == 0.5
    assert qualification["writeback"]["status"] == "not_mirrored"
    # Proposal: entered by o1 and n4, left by neither: no conversion share either month.
    proposal = stage_goal(client, alice.id, "Proposal", 0.2)
    assert proposal["baseline"] is None
    assert proposal["progress"] is None

    # A lost exit on 11-20 makes November 2 / 5 = 0.4 < 0.7: missed at the end of the month.
    _walk(factory, alice, ("Qualification", 11, 18), ("Closed Lost", 11, 20))
    config = CoachingConfig.from_settings(settings)
    assert (
        goal_progress.refresh_progress(db_session, now=datetime(2026, 11, 21, tzinfo=UTC), config=config) == 2
    )
    assert ok(client.get(f"/v1/goals/{qualification['id']}"))["progress"] == 0.4
    closed = goals.close_due_goals(db_session, now=datetime(2026, 12, 1, 0, 5, tzinfo=UTC), config=config)
    status = {str(g.id): (g.status, g.progress) for g in closed}
    assert status == {qualification["id"]: ("missed", Decimal("0.4")), proposal["id"]: ("missed", None)}
    history = ok(client.get(f"/v1/goals/{qualification['id']}/history"))["items"]
    assert "stage_conversion at Qualification 0.4 against target 0.7" in history[-1]["reason"]


def test_stage_conversion_goal_needs_an_open_stage_and_stage_needs_that_metric(
    client: TestClient, team: Team, factory: Factory
) -> None:
    _stages(factory)
    base = {"kind": "outcome", "period": "2026-11", "metric": "stage_conversion", "target": 0.5,
            "measurement_plan": "x"}  # fmt: skip
    allowed = "the open stages are: Prospecting, Qualification, Proposal, Negotiation."
    for stage in (None, "Closed Won", "Retired", "Nowhere"):
        body = {**base, "stage": stage} if stage is not None else base
        response = client.post(f"/v1/reps/{team.alice.id}/goals", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_goal"
        assert response.json()["detail"].endswith(allowed), response.json()["detail"]

    others = [
        {**base, "metric": "win_rate", "stage": "Qualification"},
        {"kind": "activity", "period": "2026-11", "metric": "calls", "target": 3, "stage": "Qualification",
         "measurement_plan": "x"},
        {"kind": "skill", "period": "2026-11", "skill": "discovery", "stage": "Qualification",
         "measurement_plan": "x"},
    ]  # fmt: skip
    for body in others:
        response = client.post(f"/v1/reps/{team.alice.id}/goals", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_goal"
        assert "stage" in response.json()["detail"]
    assert ok(client.get(f"/v1/reps/{team.alice.id}/goals"))["items"] == []


def test_a_goal_without_a_coach_from_a_caller_without_a_salesforce_user_is_a_422_naming_coach_id(
    client: TestClient, team: Team, admin_key: str
) -> None:
    body = {"kind": "skill", "period": "2026-11", "skill": "discovery", "measurement_plan": "Ride-alongs"}
    response = client.post(
        f"/v1/reps/{team.alice.id}/goals", json=body, headers={"Authorization": f"Bearer {admin_key}"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "coach_id_required"
    assert [e["loc"] for e in problem["errors"]] == [["body", "coach_id"]]
    assert "coach_id" in problem["detail"]
    named = client.post(
        f"/v1/reps/{team.alice.id}/goals",
        json={**body, "coach_id": team.maya.id},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert ok(named, 201)["coach_id"] == team.maya.id


def _october_calls(factory: Factory, rep: Any, count: int) -> None:
    for day in range(1, count + 1):
        factory.task(rep, subtype="Call", completed=datetime(2026, 10, day, 9, tzinfo=UTC))


def test_a_target_below_the_baseline_of_a_higher_is_better_metric_is_refused_unless_allowed(
    client: TestClient, team: Team, factory: Factory
) -> None:
    _october_calls(factory, team.alice, 3)  # baseline: 3 calls in October
    response = client.post(
        f"/v1/reps/{team.alice.id}/goals",
        json={"kind": "activity", "period": "2026-11", "metric": "calls", "target": 2,
              "measurement_plan": "Calls logged"},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "target_worse_than_baseline"
    assert problem["baseline"] == 3
    assert [e["loc"] for e in problem["errors"]] == [["body", "target"]]
    assert "allow_target_worse_than_baseline" in problem["detail"]

    # Equal to the baseline (hold the level) is no step back.
    held = activity_goal(client, team.alice.id, target=3)
    ok(client.patch(f"/v1/goals/{held['id']}", json={"status": "abandoned"}))
    allowed = activity_goal(client, team.alice.id, target=2, allow_target_worse_than_baseline=True)
    assert (allowed["baseline"], allowed["target"]) == (3, 2)

    # A target lowered later below the baseline is refused the same way.
    other = activity_goal(client, team.alice.id, target=9)
    refused = client.patch(f"/v1/goals/{other['id']}", json={"target": 1})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "target_worse_than_baseline"
    changed = ok(
        client.patch(f"/v1/goals/{other['id']}", json={"target": 1, "allow_target_worse_than_baseline": True})
    )
    assert changed["target"] == 1


def test_a_sales_cycle_target_above_the_baseline_is_refused(
    client: TestClient, team: Team, factory: Factory
) -> None:
    # October: one deal won after 30 days (created 1 October, closed 31 October): baseline 30.
    factory.opportunity(team.bob, created=datetime(2026, 10, 1, tzinfo=UTC), amount=100, won=True,
                        close=datetime(2026, 10, 31).date())  # fmt: skip
    body = {"kind": "outcome", "period": "2026-11", "metric": "sales_cycle_days",
            "measurement_plan": "Days from creation to won"}  # fmt: skip
    response = client.post(f"/v1/reps/{team.bob.id}/goals", json={**body, "target": 40})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "target_worse_than_baseline"
    assert response.json()["baseline"] == 30
    goal = ok(client.post(f"/v1/reps/{team.bob.id}/goals", json={**body, "target": 20}), 201)
    assert (goal["baseline"], goal["target"]) == (30, 20)


def test_without_a_baseline_any_target_is_accepted(client: TestClient, team: Team) -> None:
    # No October data: win_rate has no baseline, so there is nothing to fall short of.
    goal = ok(
        client.post(
            f"/v1/reps/{team.bob.id}/goals",
            json={"kind": "outcome", "period": "2026-11", "metric": "win_rate", "target": 0.1,
                  "measurement_plan": "Win rate"},
        ),
        201,
    )  # fmt: skip
    assert goal["baseline"] is None
