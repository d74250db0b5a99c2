"""Trends: one scorecard metric per month, the bound on their number, and validation."""

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
    alice = factory.user("Alice Adams", manager=factory.user("Maya Manager"))
    factory.opportunity(alice, created=at("2026-07-01"), amount=1000, won=True, close=date(2026, 8, 5))
    factory.opportunity(alice, created=at("2026-07-01"), amount=2000, won=True, close=date(2026, 8, 20))
    factory.opportunity(alice, created=at("2026-07-01"), amount=4000, won=True, close=date(2026, 10, 31))
    factory.opportunity(alice, created=at("2026-07-01"), amount=8000, won=True, close=date(2026, 11, 1))
    factory.opportunity(
        alice, created=at("2026-07-01"), amount=9000, won=True, close=date(2026, 9, 9), deleted=True
    )
    for month in (8, 9, 10):
        db_session.add(Quota(rep_id=alice.id, month=date(2026, month, 1), amount=Decimal(4000)))
    db_session.flush()
    return alice


def trend(client: TestClient, rep: SfUser, **params: str) -> Any:
    return client.get(f"/v1/reps/{rep.id}/trend", params=params)


def test_won_amount_per_month(client: TestClient, alice: SfUser) -> None:
    response = trend(client, alice, metric="won_amount", **{"from": "2026-08-01", "to": "2026-11-01"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["metric"], body["kind"], body["grain"]) == ("won_amount", "money", "month")
    # August 1000 + 2000; September nothing (the 9000 is deleted); October 4000 (10-31).
    assert [(p["period"]["label"], p["value"]) for p in body["points"]] == [
        ("2026-08", 3000.0),
        ("2026-09", 0.0),
        ("2026-10", 4000.0),
    ]


def test_rate_metric_and_a_range_cut_mid_month(client: TestClient, alice: SfUser) -> None:
    response = trend(client, alice, metric="attainment", **{"from": "2026-08-16", "to": "2026-10-01"})
    body = response.json()
    # 08-16..08-31: won 2000 against 4000 x 16/31 of August's quota = 2000 / (64000/31) = 0.96875.
    # September: 0 / 4000.
    assert [(p["period"]["from"], p["period"]["to"], p["value"]) for p in body["points"]] == [
        ("2026-08-16", "2026-09-01", 0.9688),
        ("2026-09-01", "2026-10-01", 0.0),
    ]
    assert body["points"][1]["period"]["kind"] == "month"


def test_count_metric_is_an_integer(client: TestClient, alice: SfUser) -> None:
    body = trend(client, alice, metric="won_count", **{"from": "2026-10-01", "to": "2026-12-01"}).json()
    assert [p["value"] for p in body["points"]] == [1, 1]


def test_at_most_36_months(client: TestClient, alice: SfUser) -> None:
    ok = trend(client, alice, metric="won_count", **{"from": "2023-11-01", "to": "2026-11-01"})
    assert ok.status_code == 200
    assert len(ok.json()["points"]) == 36
    too_long = trend(client, alice, metric="won_count", **{"from": "2023-11-01", "to": "2026-11-02"})
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "invalid_trend"


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"metric": "segment", "from": "2026-01-01", "to": "2026-02-01"}, ["query", "metric"]),
        (
            {"metric": "won_count", "from": "2026-01-01", "to": "2026-02-01", "grain": "week"},
            ["query", "grain"],
        ),
    ],
)
def test_invalid_requests_are_422(
    client: TestClient, alice: SfUser, params: dict[str, str], loc: list[str]
) -> None:
    response = client.get(f"/v1/reps/{alice.id}/trend", params=params)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "must be after"),
        ({"to": "2026-02-01"}, "give `from` too"),
        ({"period": "2026-01", "from": "2026-01-01", "to": "2026-02-01"}, "not both"),
    ],
)
def test_a_period_that_cannot_be_read_is_invalid_period(
    client: TestClient, alice: SfUser, params: dict[str, str], says: str
) -> None:
    response = trend(client, alice, metric="won_count", **params)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_period"
    assert says in response.json()["detail"]


def test_a_quarter_is_its_three_months(client: TestClient, alice: SfUser) -> None:
    by_name = trend(client, alice, metric="won_amount", period="2026-Q3").json()
    by_days = trend(client, alice, metric="won_amount", **{"from": "2026-07-01", "to": "2026-10-01"}).json()
    # July nothing; August 1000 + 2000; September nothing (the 9000 is deleted).
    assert [(p["period"]["label"], p["value"]) for p in by_name["points"]] == [
        ("2026-07", 0.0),
        ("2026-08", 3000.0),
        ("2026-09", 0.0),
    ]
    assert by_days == by_name
