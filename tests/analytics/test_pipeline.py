"""Pipeline health as of a day: open, stale, past due and coverage, computed by hand."""

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
def alice(factory: Factory, db_session: Session, stages: tuple[str, ...], fixed_now: object) -> SfUser:
    """As of 2026-11-15: stale means last stage change on or before 10-16 and last activity on
    or before 11-01."""
    alice = factory.user("Alice Adams", manager=factory.user("Maya Manager"))
    other = factory.user("Oscar Other")

    # o1: one stage since 08-01, no activity: stale. December.
    o1 = factory.opportunity(alice, created=at("2026-08-01"), amount=1000, close=date(2026, 12, 10))
    factory.history(o1, stage="Prospecting", at=at("2026-08-01"))
    # o2: moved to Qualification 11-01 (14 days ago): not stale. December.
    o2 = factory.opportunity(alice, created=at("2026-08-01"), amount=2000, close=date(2026, 12, 20))
    factory.history(o2, stage="Prospecting", at=at("2026-08-01"))
    factory.history(o2, stage="Qualification", at=at("2026-11-01"))
    # o3: no stage change since 08-01 but a task done 11-05: not stale. Past due (11-10).
    o3 = factory.opportunity(alice, created=at("2026-08-01"), amount=3000, close=date(2026, 11, 10))
    factory.history(o3, stage="Prospecting", at=at("2026-08-01"))
    factory.task(alice, what=o3, completed=at("2026-11-05"))
    # o4: no history (created 09-01 counts as its last change), a meeting 10-20: stale. December.
    o4 = factory.opportunity(alice, created=at("2026-09-01"), amount=4000, close=date(2026, 12, 31))
    factory.event(alice, start=at("2026-10-20"), what=o4)
    # o5 created exactly 30 days before: stale; o6 one day later: not stale. January.
    factory.opportunity(alice, created=at("2026-10-16"), amount=500, close=date(2027, 1, 15))
    factory.opportunity(alice, created=at("2026-10-17"), amount=600, close=date(2027, 1, 15))
    # o7: last activity exactly 14 days before (11-01): stale; its deleted task of 11-10 does
    # not count. December.
    o7 = factory.opportunity(alice, created=at("2026-08-01"), amount=700, close=date(2026, 12, 5))
    factory.history(o7, stage="Prospecting", at=at("2026-08-01"))
    factory.task(alice, what=o7, completed=at("2026-11-01"))
    factory.task(alice, what=o7, completed=at("2026-11-10"), deleted=True)
    # o8: an open task created on it 11-10 is activity: not stale. February.
    o8 = factory.opportunity(alice, created=at("2026-08-01"), amount=800, close=date(2027, 2, 1))
    factory.task(alice, what=o8, closed=False, activity_date=date(2026, 12, 1), created=at("2026-11-10"))

    # Not open: won (dated in December: counts against December's quota), lost, deleted,
    # created after the as-of day, someone else's.
    factory.opportunity(alice, created=at("2026-11-01"), amount=1500, won=True, close=date(2026, 12, 5))
    factory.opportunity(alice, created=at("2026-08-01"), amount=9000, lost=True, close=date(2026, 11, 2))
    factory.opportunity(alice, created=at("2026-08-01"), amount=9000, close=date(2026, 12, 2), deleted=True)
    factory.opportunity(alice, created=at("2026-11-16", 1), amount=9000, close=date(2026, 12, 2))
    factory.opportunity(other, created=at("2026-08-01"), amount=9000, close=date(2026, 12, 2))

    db_session.add(Quota(rep_id=alice.id, month=date(2026, 12, 1), amount=Decimal(10000)))
    db_session.flush()
    return alice


def pipeline(client: TestClient, rep: SfUser, **params: str) -> dict[str, Any]:
    response = client.get(f"/v1/reps/{rep.id}/pipeline", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_pipeline_today(client: TestClient, alice: SfUser) -> None:
    body = pipeline(client, alice)
    assert body["as_of"] == "2026-11-15"  # today in the org zone, from the fixed clock
    # o1..o8: 1000 + 2000 + 3000 + 4000 + 500 + 600 + 700 + 800
    assert body["open"] == {"count": 8, "amount": 12600.0}
    # o1, o4, o5, o7: 1000 + 4000 + 500 + 700
    assert body["stale"] == {"count": 4, "amount": 6200.0}
    assert body["past_due"] == {"count": 1, "amount": 3000.0}
    coverage = body["coverage"]
    assert coverage["period"]["label"] == "2026-12"
    # Open closing in December: o1 1000 + o2 2000 + o4 4000 + o7 700 = 7700.
    # Remaining quota: 10000 - 1500 won = 8500; 7700 / 8500 = 0.90588...
    assert coverage["open_amount"] == 7700.0
    assert coverage["won_amount"] == 1500.0
    assert coverage["quota_remaining"] == 8500.0
    assert coverage["coverage"] == 0.9059


def test_as_of_an_earlier_day(client: TestClient, alice: SfUser) -> None:
    body = pipeline(client, alice, as_of="2026-11-10")
    # o3 closes 11-10: not before the as-of day, so not past due.
    assert body["past_due"] == {"count": 0, "amount": 0.0}
    # Stale now needs the last change on or before 10-11 and no activity after 10-27:
    # o1 (08-01, none) and o4 (09-01, meeting 10-20) are; o3 (task 11-05), o7 (task 11-01) and
    # o8 (task 11-10) had activity since; o5 (10-16) is not 30 days old; o2 moved on 11-01.
    assert body["stale"] == {"count": 2, "amount": 5000.0}
    assert body["coverage"]["period"]["label"] == "2026-12"


def test_thresholds_are_configurable(client_with: Any, alice: SfUser) -> None:
    # stale_days 200: no stage change is that old (the oldest is 08-01, 106 days), nothing stale.
    assert pipeline(client_with(stale_days=200), alice)["stale"]["count"] == 0
    # stale_activity_days 1: activity must be on or before 11-14, so o3 (11-05), o8 (11-10)
    # become stale too, as their stage changes are old: o1 o3 o4 o5 o7 o8.
    assert pipeline(client_with(stale_activity_days=1), alice)["stale"] == {"count": 6, "amount": 10000.0}


def test_no_quota_gives_null_coverage(client: TestClient, factory: Factory, fixed_now: object) -> None:
    rep = factory.user("Nora Noquota", manager=factory.user("Mo Manager"))
    factory.opportunity(rep, created=at("2026-11-01"), amount=1000, close=date(2026, 12, 3))
    coverage = pipeline(client, rep)["coverage"]
    assert coverage["open_amount"] == 1000.0
    assert coverage["quota"] is None
    assert coverage["quota_remaining"] is None
    assert coverage["coverage"] is None


def test_quota_already_met_gives_null_coverage(
    client: TestClient, factory: Factory, db_session: Session, fixed_now: object
) -> None:
    rep = factory.user("Wendy Winner", manager=factory.user("Mo Manager"))
    factory.opportunity(rep, created=at("2026-11-01"), amount=1000, close=date(2026, 12, 3))
    factory.opportunity(rep, created=at("2026-11-01"), amount=6000, won=True, close=date(2026, 12, 1))
    db_session.add(Quota(rep_id=rep.id, month=date(2026, 12, 1), amount=Decimal(5000)))
    db_session.flush()
    coverage = pipeline(client, rep)["coverage"]
    assert coverage["quota_remaining"] == -1000.0
    assert coverage["coverage"] is None
