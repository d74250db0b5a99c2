"""Stage conversion and the chokepoint against values computed by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from salescoach_core.models import SfUser
from tests.analytics.conftest import at
from tests.plugins.factories import Factory


def walk(factory: Factory, rep: SfUser, *steps: tuple[str, str], **fields: Any) -> None:
    """An opportunity of `rep` whose history visits each (stage, day) in turn; a day is
    `YYYY-MM-DD` (noon UTC) or `YYYY-MM-DDTHH`."""
    opportunity = factory.opportunity(rep, created=at(steps[0][1][:10]), amount=100, **fields)
    for stage, day in steps:
        hour = int(day[11:13]) if len(day) > 10 else 12
        factory.history(opportunity, stage=stage, at=at(day[:10], hour))


@pytest.fixture
def team(factory: Factory, stages: tuple[str, ...]) -> dict[str, SfUser]:
    maya = factory.user("Maya Manager")
    alice = factory.user("Alice Adams", manager=maya)
    bob = factory.user("Bob Brown", manager=maya)

    # Alice. Times are noon unless an hour is given.
    # a1: P 2 days -> Q 17 days -> won. Converts at P and at Q.
    walk(
        factory,
        alice,
        ("Prospecting", "2026-10-01"),
        ("Qualification", "2026-10-03"),
        ("Closed Won", "2026-10-20"),
    )
    # a2: P 4 days -> lost.
    walk(factory, alice, ("Prospecting", "2026-10-02"), ("Closed Lost", "2026-10-06"))
    # a3: still in P: entered, never left.
    walk(factory, alice, ("Prospecting", "2026-10-05"))
    # a4: P (an amount change repeats P: one visit) 2.5 days -> Q 2 days -> back to P 2 days -> lost.
    # P: 4.5 days, converted (reached Q). Q: 2 days, not converted (only went back, then lost).
    walk(
        factory,
        alice,
        ("Prospecting", "2026-10-01T12"),
        ("Prospecting", "2026-10-02T12"),
        ("Qualification", "2026-10-04T00"),
        ("Prospecting", "2026-10-06T00"),
        ("Closed Lost", "2026-10-08T00"),
    )
    # a5: entered P in September (not October's P); Q 8 days -> Negotiation (skipping Proposal:
    # still a later stage, converted) 2 days -> lost.
    walk(
        factory,
        alice,
        ("Prospecting", "2026-09-20"),
        ("Qualification", "2026-10-02"),
        ("Negotiation", "2026-10-10"),
        ("Closed Lost", "2026-10-12"),
    )
    # a6: a deleted opportunity never counts.
    walk(factory, alice, ("Prospecting", "2026-10-01"), ("Qualification", "2026-10-02"), deleted=True)
    # a7: the Q row is deleted: P 8 days -> lost, not converted.
    a7 = factory.opportunity(alice, created=at("2026-10-01"), amount=100)
    factory.history(a7, stage="Prospecting", at=at("2026-10-01"))
    factory.history(a7, stage="Qualification", at=at("2026-10-03"), deleted=True)
    factory.history(a7, stage="Closed Lost", at=at("2026-10-09"))

    # Bob: three through P (1, 2 and 4 days), two on to Q where they still are.
    walk(factory, bob, ("Prospecting", "2026-10-01"), ("Qualification", "2026-10-02"))
    walk(factory, bob, ("Prospecting", "2026-10-01"), ("Qualification", "2026-10-03"))
    walk(factory, bob, ("Prospecting", "2026-10-01"), ("Closed Lost", "2026-10-05"), close=date(2026, 10, 5))
    return {"maya": maya, "alice": alice, "bob": bob}


def conversion(client: TestClient, rep: SfUser, **params: str) -> dict[str, Any]:
    response = client.get(f"/v1/reps/{rep.id}/stage-conversion", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_rep_and_team_side_by_side(client: TestClient, team: dict[str, SfUser]) -> None:
    body = conversion(client, team["alice"], period="2026-10")
    by_stage = {s["stage"]: s for s in body["stages"]}
    assert [s["stage"] for s in body["stages"]] == ["Prospecting", "Qualification", "Proposal", "Negotiation"]

    # Alice at P: entered a1 a2 a3 a4 a7; left all but a3; converted a1 a4.
    assert by_stage["Prospecting"]["rep"] == {
        "entered": 5,
        "left": 4,
        "converted": 2,
        "conversion": 0.5,
        "mean_days_in_stage": 4.62,  # (2 + 4 + 4.5 + 8) / 4 = 4.625, served half-even to 2 places
    }
    # Alice at Q: a1 (won), a4 (back, then lost), a5 (on to Negotiation): 2 of 3; (17 + 2 + 8) / 3 = 9.
    assert by_stage["Qualification"]["rep"] == {
        "entered": 3,
        "left": 3,
        "converted": 2,
        "conversion": round(2 / 3, 4),
        "mean_days_in_stage": 9.0,
    }
    assert by_stage["Proposal"]["rep"] == {
        "entered": 0,
        "left": 0,
        "converted": 0,
        "conversion": None,
        "mean_days_in_stage": None,
    }
    assert by_stage["Negotiation"]["rep"]["conversion"] == 0.0

    # Team (Alice + Bob) at P: entered 5 + 3, left 4 + 3, converted 2 + 2 = 4/7;
    # days (18.5 + 1 + 2 + 4) / 7 = 25.5 / 7.
    assert by_stage["Prospecting"]["team"] == {
        "entered": 8,
        "left": 7,
        "converted": 4,
        "conversion": round(4 / 7, 4),
        "mean_days_in_stage": round(25.5 / 7, 2),
    }
    # Team at Q: Bob's two are still in Q, so the team equals Alice there.
    assert by_stage["Qualification"]["team"]["conversion"] == round(2 / 3, 4)
    assert by_stage["Prospecting"]["shortfall"] == round(4 / 7 - 1 / 2, 4)  # 1/14
    assert by_stage["Qualification"]["shortfall"] == 0.0
    # Alice left P only 4 times, below the minimum of 5: no chokepoint.
    assert body["chokepoint"] is None
    assert body["min_opportunities"] == 5
    assert body["team_size"] == 2


def test_chokepoint_once_the_sample_is_large_enough(
    client_with: Callable[..., TestClient], team: dict[str, SfUser]
) -> None:
    body = conversion(client_with(chokepoint_min_opportunities=4), team["alice"], period="2026-10")
    # P is the only stage with a positive shortfall (1/14), and Alice left it 4 times.
    assert body["chokepoint"] == "Prospecting"


def test_a_rep_doing_better_than_the_team_has_no_chokepoint(
    client_with: Callable[..., TestClient], team: dict[str, SfUser]
) -> None:
    # Bob converts 2/3 at P against the team's 4/7: a negative shortfall is no chokepoint.
    body = conversion(client_with(chokepoint_min_opportunities=1), team["bob"], period="2026-10")
    prospecting = body["stages"][0]
    assert prospecting["rep"]["conversion"] == round(2 / 3, 4)
    assert prospecting["shortfall"] == round(4 / 7 - 2 / 3, 4)
    assert body["chokepoint"] is None


def test_entry_within_the_period_decides(client: TestClient, team: dict[str, SfUser]) -> None:
    # September: only a5 entered P (09-20); it left on 10-02 for Q, so it counts as converted.
    body = conversion(client, team["alice"], period="2026-09")
    prospecting = body["stages"][0]["rep"]
    assert (prospecting["entered"], prospecting["left"], prospecting["converted"]) == (1, 1, 1)
    assert prospecting["mean_days_in_stage"] == 12.0  # 09-20 -> 10-02


def test_rep_without_a_manager_has_no_team_and_no_chokepoint(
    client: TestClient, factory: Factory, stages: tuple[str, ...]
) -> None:
    solo = factory.user("Sam Solo")
    walk(factory, solo, ("Prospecting", "2026-10-01"), ("Closed Lost", "2026-10-02"))
    body = conversion(client, solo, period="2026-10")
    assert body["manager_id"] is None
    assert body["team_size"] == 1
    assert all(s["team"] is None and s["shortfall"] is None for s in body["stages"])
    assert body["stages"][0]["rep"]["conversion"] == 0.0
    assert body["chokepoint"] is None
