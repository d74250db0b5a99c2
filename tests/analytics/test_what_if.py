"""What-if scenarios: baseline over the trailing full months, changes, validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from salescoach_core.models import Quota, SfUser
from tests.analytics.conftest import at
from tests.plugins.factories import Factory


@pytest.fixture
def alice(factory: Factory, db_session: Session, fixed_now: object) -> SfUser:
    """Now is 2026-11-15, so the baseline is August, September and October 2026."""
    alice = factory.user("Alice Adams", manager=factory.user("Maya Manager"))
    # Six starts in the window: 2 a month.
    factory.opportunity(alice, created=at("2026-08-01"), amount=10000, won=True, close=date(2026, 8, 21))
    factory.opportunity(alice, created=at("2026-09-01"), amount=20000, won=True, close=date(2026, 9, 11))
    factory.opportunity(alice, created=at("2026-08-10"), amount=3000, lost=True, close=date(2026, 9, 1))
    factory.opportunity(alice, created=at("2026-10-01"), amount=500, lost=True, close=date(2026, 10, 20))
    factory.opportunity(alice, created=at("2026-10-05"), amount=700)
    factory.opportunity(alice, created=at("2026-09-15"), amount=800)
    # Outside the baseline: deleted, this month, before August.
    factory.opportunity(
        alice, created=at("2026-09-01"), amount=9000, won=True, close=date(2026, 9, 2), deleted=True
    )
    factory.opportunity(alice, created=at("2026-11-02"), amount=9000, won=True, close=date(2026, 11, 3))
    factory.opportunity(alice, created=at("2026-07-31"), amount=9000, lost=True, close=date(2026, 7, 31))
    db_session.add(Quota(rep_id=alice.id, month=date(2026, 11, 1), amount=Decimal(20000)))
    db_session.flush()
    return alice


def what_if(client: TestClient, rep: SfUser, changes: dict[str, Any]) -> Any:
    return client.post(f"/v1/reps/{rep.id}/what-if", json={"changes": changes})


def test_two_more_starts_a_month(client: TestClient, alice: SfUser) -> None:
    response = what_if(client, alice, {"monthly_starts": {"kind": "add", "value": 2}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["baseline_period"]["from"] == "2026-08-01"
    assert body["baseline_period"]["to"] == "2026-11-01"
    # Starts 6 / 3 months = 2; wins 10000 and 20000: avg 15000; won 2 of 4 decided: 0.5;
    # cycles 20 and 10 days: 15. Bookings 2 x 15000 x 0.5 = 15000 a month.
    assert body["baseline"] == {
        "monthly_starts": 2.0,
        "avg_deal_size": 15000.0,
        "win_rate": 0.5,
        "sales_cycle_days": 15.0,
        "monthly_bookings": 15000.0,
    }
    # 4 x 15000 x 0.5 = 30000: +15000 a month, +45000 a quarter; 30000 / 20000 quota = 1.5.
    assert body["projected"]["monthly_starts"] == 4.0
    assert body["projected"]["monthly_bookings"] == 30000.0
    assert body["monthly_difference"] == 15000.0
    assert body["quarterly_difference"] == 45000.0
    assert body["quota_period"]["label"] == "2026-11"
    assert body["monthly_quota"] == 20000.0
    assert body["baseline_attainment"] == 0.75
    assert body["projected_attainment"] == 1.5
    assert body["lag_days"] == 15.0


def test_scale_and_add_changes_together(client: TestClient, alice: SfUser) -> None:
    response = what_if(
        client,
        alice,
        {
            "win_rate": {"kind": "scale", "value": 1.2},
            "avg_deal_size": {"kind": "scale", "value": 0.9},
            "sales_cycle_days": {"kind": "add", "value": -5},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # win rate 0.5 x 1.2 = 0.6; deal 15000 x 0.9 = 13500; cycle 15 - 5 = 10.
    # 2 x 13500 x 0.6 = 16200: +1200 a month, +3600 a quarter; 16200 / 20000 = 0.81.
    assert body["projected"] == {
        "monthly_starts": 2.0,
        "avg_deal_size": 13500.0,
        "win_rate": 0.6,
        "sales_cycle_days": 10.0,
        "monthly_bookings": 16200.0,
    }
    assert body["monthly_difference"] == 1200.0
    assert body["quarterly_difference"] == 3600.0
    assert body["projected_attainment"] == 0.81
    assert body["lag_days"] == 10.0


def test_set_gives_a_lever_its_value_whatever_the_baseline(client: TestClient, alice: SfUser) -> None:
    body = what_if(
        client,
        alice,
        {"win_rate": {"kind": "set", "value": 0.4}, "monthly_starts": {"kind": "set", "value": 3}},
    ).json()
    # 3 x 15000 x 0.4 = 18000 a month: +3000 against the baseline's 15000, +9000 a quarter.
    assert body["projected"]["win_rate"] == 0.4
    assert body["projected"]["monthly_starts"] == 3.0
    assert body["projected"]["monthly_bookings"] == 18000.0
    assert body["monthly_difference"] == 3000.0
    assert body["quarterly_difference"] == 9000.0


def test_an_impossible_value_is_named_rounded_to_its_levers_places(client: TestClient, alice: SfUser) -> None:
    problem = what_if(
        client,
        alice,
        {
            "avg_deal_size": {"kind": "scale", "value": -0.333333},
            "win_rate": {"kind": "set", "value": 1.234567},
        },
    ).json()
    # 15000 x -0.333333 = -4999.995, in cents -5000.00; a win rate to 4 places: 1.2346.
    assert [e["msg"] for e in problem["errors"]] == [
        "avg_deal_size would become -5000.00; it must be at least 0.",
        "win_rate would become 1.2346; it must be between 0 and 1.",
    ]


def test_no_change_projects_the_baseline(client: TestClient, alice: SfUser) -> None:
    body = what_if(client, alice, {}).json()
    assert body["projected"] == body["baseline"]
    assert body["monthly_difference"] == 0.0


def test_out_of_range_result_is_422_naming_the_field(client: TestClient, alice: SfUser) -> None:
    response = what_if(
        client,
        alice,
        {"win_rate": {"kind": "add", "value": 0.6}, "avg_deal_size": {"kind": "scale", "value": -0.5}},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_scenario"
    # In lever order: starts, deal size, win rate, cycle.
    assert [e["loc"] for e in problem["errors"]] == [
        ["body", "changes", "avg_deal_size", "value"],  # 15000 x -0.5 < 0
        ["body", "changes", "win_rate", "value"],  # 0.5 + 0.6 = 1.1 > 1
    ]


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"starts": {"kind": "add", "value": 1}}, ["body", "changes", "starts"]),
        ({"win_rate": {"kind": "double", "value": 1}}, ["body", "changes", "win_rate", "kind"]),
        ({"win_rate": {"kind": "scale", "value": "lots"}}, ["body", "changes", "win_rate", "value"]),
        ({"win_rate": {"kind": "scale"}}, ["body", "changes", "win_rate", "value"]),
    ],
)
def test_malformed_changes_are_422_with_field_paths(
    client: TestClient, alice: SfUser, changes: dict[str, Any], loc: list[str]
) -> None:
    response = what_if(client, alice, changes)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["errors"]]


def test_rep_without_wins_or_quota(client: TestClient, factory: Factory, fixed_now: object) -> None:
    rep = factory.user("Nick New", manager=factory.user("Mo Manager"))
    factory.opportunity(rep, created=at("2026-10-01"), amount=1000)
    response = what_if(
        client,
        rep,
        {"avg_deal_size": {"kind": "scale", "value": 1.1}, "win_rate": {"kind": "add", "value": 0.25}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # 1 start / 3 months; no wins: no deal size, and scaling nothing stays nothing. Adding to
    # a win rate starts from 0: 0.25.
    assert body["baseline"]["monthly_starts"] == 0.33
    assert body["projected"]["avg_deal_size"] is None
    assert body["projected"]["win_rate"] == 0.25
    assert body["projected"]["monthly_bookings"] is None
    assert body["monthly_difference"] is None
    assert body["projected_attainment"] is None
    assert body["monthly_quota"] is None


def test_baseline_months_are_configurable(client_with: Any, alice: SfUser) -> None:
    body = what_if(client_with(whatif_baseline_months=1), alice, {}).json()
    # October only: 2 starts, one loss, no win.
    assert body["baseline_period"]["from"] == "2026-10-01"
    assert body["baseline"]["monthly_starts"] == 2.0
    assert body["baseline"]["win_rate"] == 0.0
    assert body["baseline"]["avg_deal_size"] is None
