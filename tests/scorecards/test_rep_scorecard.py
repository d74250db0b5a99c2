"""Every scorecard metric against values computed by hand from docs/domain.md's definitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from salescoach_core.models import ActivityRequirement, Quota, SfUser
from tests.plugins.factories import Factory


def at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


@pytest.fixture
def team(factory: Factory, db_session: Session) -> dict[str, SfUser]:
    """Manager Maya with reps Alice, Bob and Carol; October 2026 data described per test."""
    maya = factory.user("Maya Manager")
    alice = factory.user("Alice Adams", manager=maya)
    bob = factory.user("Bob Brown", manager=maya)
    carol = factory.user("Carol Clark", manager=maya)

    # Alice: three starts in October (one without amount), two wins and one loss closing in it.
    factory.opportunity(alice, created=at("2026-10-03", 10), amount=10000, won=True, close=date(2026, 10, 20))
    factory.opportunity(alice, created=at("2026-10-10"), amount=None)
    factory.opportunity(alice, created=at("2026-09-01", 0), amount=5000, won=True, close=date(2026, 10, 5))
    factory.opportunity(alice, created=at("2026-09-15"), amount=2000, lost=True, close=date(2026, 10, 12))
    factory.opportunity(alice, created=at("2026-10-15"), amount=7000, won=True, deleted=True)
    factory.opportunity(alice, created=at("2026-10-31", 23, 30), amount=3000)
    factory.opportunity(alice, created=at("2026-11-01", 0), amount=4000)
    factory.opportunity(alice, created=at("2026-10-20"), amount=8000, won=True, close=date(2026, 11, 1))

    factory.task(alice, subtype="Call", completed=at("2026-10-02", 9))
    factory.task(alice, subtype="Task", type="Call", completed=None, activity_date=date(2026, 10, 5))
    factory.task(alice, subtype="Email", completed=at("2026-10-06"))
    factory.task(alice, subtype="Task", completed=None, activity_date=date(2026, 10, 7))
    factory.task(alice, subtype="Call", closed=False, activity_date=date(2026, 10, 8))
    factory.task(alice, subtype="Call", completed=at("2026-10-09"), deleted=True)
    factory.task(alice, subtype="Call", completed=at("2026-09-30", 23, 59), activity_date=date(2026, 10, 1))
    factory.task(alice, subtype="Call", completed=at("2026-10-09"), archived=True)
    factory.event(alice, start=at("2026-10-03", 15))
    factory.event(alice, start=at("2026-10-04", 15), deleted=True)
    factory.event(alice, start=at("2026-11-01", 15))

    # Bob: one deal created and won the same day (a zero-day cycle).
    factory.opportunity(bob, created=at("2026-10-01", 8), amount=9000, won=True, close=date(2026, 10, 1))
    # Carol: an open deal only; no quota.
    factory.opportunity(carol, created=at("2026-10-12"), amount=1500)

    db_session.add(Quota(rep_id=alice.id, month=date(2026, 10, 1), amount=Decimal(20000)))
    db_session.add(Quota(rep_id=bob.id, month=date(2026, 10, 1), amount=Decimal(10000)))
    db_session.add(
        ActivityRequirement(scope="default", calls_per_week=Decimal(2), emails_per_week=Decimal(1))
    )
    db_session.flush()
    return {"maya": maya, "alice": alice, "bob": bob, "carol": carol}


def scorecard(client: TestClient, rep: SfUser, **params: str) -> dict[str, object]:
    response = client.get(f"/v1/reps/{rep.id}/scorecard", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_finished_month_every_metric(
    client: TestClient, team: dict[str, SfUser], set_now: Callable[[datetime], None]
) -> None:
    card = scorecard(client, team["alice"], period="2026-10")
    # Starts: created 10-03, 10-10 (no amount: counts 0), 10-20 (won in November), 10-31 23:30
    # UTC. Not the deleted one, not 11-01 00:00.
    assert card["opportunity_starts"] == 4
    assert card["dollars_in_starts"] == 21000.0
    # Won closing in October: 10000 (closed 10-20) and 5000 (closed 10-05); lost: 2000.
    assert card["won_count"] == 2
    assert card["won_amount"] == 15000.0
    assert card["lost_count"] == 1
    assert card["win_rate"] == round(2 / 3, 4)
    assert card["avg_deal_size"] == 7500.0
    # Cycles: 10-03 -> 10-20 = 17 days; 09-01 -> 10-05 = 34 days; mean 25.5.
    assert card["sales_cycle_days"] == 25.5
    # 4 starts x 7500 x 2/3 / 25.5 days = 784.3137...
    assert card["sales_velocity_per_day"] == 784.31
    assert card["quota"] == 20000.0
    assert card["attainment"] == 0.75
    assert card["pace"] == 0.75  # finished period: pace equals attainment
    assert card["segment"] == "low_core"  # 0.50 <= 0.75 < 0.90
    # Calls: subtype Call (10-02), Type Call completed by ActivityDate (10-05), archived (10-09).
    # Not: open, deleted, completed 09-30 23:59 even though its ActivityDate is 10-01.
    assert (card["calls"], card["emails"], card["meetings"], card["other_tasks"]) == (3, 1, 1, 1)
    # Requirements: 2 calls and 1 email a week over 31 days: 3 / (62/7) = 21/62, 1 / (31/7) = 7/31.
    components = {c["activity"]: c for c in card["process_to_requirement_components"]}  # type: ignore[attr-defined]
    assert components["calls"]["required"] == round(62 / 7, 2)
    assert components["calls"]["ratio"] == round(21 / 62, 4)
    assert components["emails"]["ratio"] == round(7 / 31, 4)
    assert set(components) == {"calls", "emails"}  # no meeting requirement set
    assert card["process_to_requirement"] == round(35 / 124, 4)
    assert card["willingness_to_change"] is None  # no commitments due
    assert card["period"] == {
        "label": "2026-10",
        "kind": "month",
        "from": "2026-10-01",
        "to": "2026-11-01",
        "timezone": "UTC",
    }
    assert card["data_as_of"] is None  # nothing synced yet


def test_rank_follows_pace_and_missing_quota_ranks_last(
    client: TestClient, team: dict[str, SfUser], set_now: Callable[[datetime], None]
) -> None:
    # Bob: 9000 / 10000 = 0.90 (core); Alice 0.75; Carol has no quota, so no pace.
    assert scorecard(client, team["bob"], period="2026-10")["rank"] == 1
    assert scorecard(client, team["alice"], period="2026-10")["rank"] == 2
    assert scorecard(client, team["carol"], period="2026-10")["rank"] == 3
    # Maya owns no opportunity and has no manager: not a rep, so no scorecard.
    assert (
        client.get(f"/v1/reps/{team['maya'].id}/scorecard", params={"period": "2026-10"}).status_code == 404
    )


def test_zero_day_cycle_leaves_velocity_null(
    client: TestClient, team: dict[str, SfUser], set_now: Callable[[datetime], None]
) -> None:
    card = scorecard(client, team["bob"], period="2026-10")
    assert card["sales_cycle_days"] == 0.0
    assert card["win_rate"] == 1.0
    assert card["sales_velocity_per_day"] is None
    assert card["segment"] == "core"


def test_no_quota_and_no_wins_give_nulls_not_zeros(
    client: TestClient, team: dict[str, SfUser], set_now: Callable[[datetime], None]
) -> None:
    card = scorecard(client, team["carol"], period="2026-10")
    assert card["opportunity_starts"] == 1
    assert card["dollars_in_starts"] == 1500.0
    for metric in ("win_rate", "avg_deal_size", "sales_cycle_days", "sales_velocity_per_day"):
        assert card[metric] is None, metric
    for metric in ("quota", "attainment", "pace", "segment"):
        assert card[metric] is None, metric


def test_running_period_pace_is_attainment_over_elapsed_share(
    client: TestClient, factory: Factory, db_session: Session, set_now: Callable[[datetime], None]
) -> None:
    rep = factory.user("Rita Running", manager=factory.user("Mo"))
    factory.opportunity(rep, created=at("2026-11-02"), amount=5000, won=True, close=date(2026, 11, 10))
    db_session.add(Quota(rep_id=rep.id, month=date(2026, 11, 1), amount=Decimal(20000)))
    db_session.flush()
    set_now(datetime(2026, 11, 16, tzinfo=UTC))  # 15 of November's 30 days have passed
    card = scorecard(client, rep, period="2026-11")
    assert card["attainment"] == 0.25
    assert card["pace"] == 0.5
    assert card["segment"] == "low_core"  # 0.50 is the first value of Low Core


def test_quarter_quota_sums_its_months_and_range_prorates_cut_months(
    client: TestClient, factory: Factory, db_session: Session, set_now: Callable[[datetime], None]
) -> None:
    rep = factory.user("Quinn Quarter", manager=factory.user("Mo"))
    factory.opportunity(rep, created=at("2026-10-02"), amount=100)
    for month in (10, 11, 12):
        db_session.add(Quota(rep_id=rep.id, month=date(2026, month, 1), amount=Decimal(10000)))
    db_session.flush()
    set_now(datetime(2027, 1, 5, tzinfo=UTC))
    assert scorecard(client, rep, period="2026-Q4")["quota"] == 30000.0
    # [10-16, 11-16): 16 of October's 31 days and 15 of November's 30 days.
    ranged = scorecard(client, rep, **{"from": "2026-10-16", "to": "2026-11-16"})
    assert ranged["quota"] == round(10000 * 16 / 31 + 10000 * 15 / 30, 2)
    assert ranged["period"]["kind"] == "range"  # type: ignore[index]


def test_dates_are_compared_in_the_org_time_zone(
    app_in_zone: Callable[[str], TestClient], factory: Factory
) -> None:
    rep = factory.user("Zoe Zone", manager=factory.user("Mo"))
    factory.opportunity(rep, created=at("2026-10-31", 23, 30))  # Oct 31 19:30 in New York
    factory.opportunity(rep, created=at("2026-11-01", 2))  # Oct 31 22:00 in New York, Nov 1 in UTC
    factory.opportunity(rep, created=at("2026-10-01", 2))  # Sep 30 22:00 in New York
    new_york = app_in_zone("America/New_York")
    utc = app_in_zone("UTC")
    assert scorecard(new_york, rep, period="2026-10")["opportunity_starts"] == 2
    assert scorecard(utc, rep, period="2026-10")["opportunity_starts"] == 2
    assert scorecard(new_york, rep, period="2026-11")["opportunity_starts"] == 0
    assert scorecard(utc, rep, period="2026-11")["opportunity_starts"] == 1


def test_fifteen_character_rep_id_is_accepted(
    client: TestClient, team: dict[str, SfUser], set_now: Callable[[datetime], None]
) -> None:
    alice = team["alice"]
    response = client.get(f"/v1/reps/{alice.id[:15]}/scorecard", params={"period": "2026-10"})
    assert response.status_code == 200
    assert response.json()["rep_id"] == alice.id


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"period": "2026-13"}, "invalid_period"),
        ({"period": "2026-Q5"}, "invalid_period"),
        ({"from": "2026-10-10", "to": "2026-10-01"}, "invalid_period"),
        ({"period": "2026-10", "from": "2026-10-01", "to": "2026-11-01"}, "invalid_period"),
        ({"from": "2026-10-01"}, "invalid_period"),
        ({"from": "yesterday", "to": "2026-10-01"}, "validation_failed"),
    ],
)
def test_bad_periods_are_422_naming_the_fix(
    client: TestClient, team: dict[str, SfUser], params: dict[str, str], code: str
) -> None:
    response = client.get(f"/v1/reps/{team['alice'].id}/scorecard", params=params)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_unknown_rep_is_404_and_a_malformed_id_is_422(client: TestClient, team: dict[str, SfUser]) -> None:
    for rep_id, status, code in (
        ("005000000000000AAA", 404, "rep_not_found"),
        ("not-an-id", 422, "invalid_id"),
    ):
        response = client.get(f"/v1/reps/{rep_id}/scorecard", params={"period": "2026-10"})
        assert response.status_code == status
        assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("scorecard", {"period": "0000-01"}, "invalid_period"),
        ("scorecard", {"period": "9999-Q4"}, "invalid_period"),
        ("scorecard", {"from": "9999-12-01", "to": "9999-12-31"}, "date_out_of_range"),
        ("scorecard", {"from": "0001-01-01", "to": "0001-02-01"}, "date_out_of_range"),
        ("pipeline", {"as_of": "9999-12-31"}, "date_out_of_range"),
        ("trend", {"metric": "won_amount", "from": "9999-11-01", "to": "9999-12-31"}, "date_out_of_range"),
        ("loss-analysis", {"from": "0001-01-01", "to": "0001-02-01"}, "date_out_of_range"),
    ],
)
def test_dates_outside_the_supported_years_are_422_not_500(
    client: TestClient, factory: Factory, path: str, params: dict[str, str], code: str
) -> None:
    # Found by schemathesis: year 0 and year 10000 are not dates Python can hold.
    rep = factory.user("Edge Case", manager=factory.user("Mo"))
    response = client.get(f"/v1/reps/{rep.id}/{path}", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
