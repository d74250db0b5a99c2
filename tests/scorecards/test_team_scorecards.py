"""Team scorecards: stack-rank order, totals, segment distribution, and the rank rule's ties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from salescoach_core.models import Quota, SfUser
from tests.plugins.factories import Factory

OCTOBER = {"period": "2026-10"}


def won(factory: Factory, rep: SfUser, amount: int, day: int = 10) -> None:
    created = datetime(2026, 10, day, 9, tzinfo=UTC)
    factory.opportunity(rep, created=created, amount=amount, won=True, close=date(2026, 10, day + 5))


def quota(session: Session, rep: SfUser, amount: int) -> None:
    session.add(Quota(rep_id=rep.id, month=date(2026, 10, 1), amount=Decimal(amount)))
    session.flush()


def test_ties_break_on_won_amount_then_name(
    client: TestClient, factory: Factory, db_session: Session, set_now: Callable[[datetime], None]
) -> None:
    boss = factory.user("Boss")
    # Same pace (0.5) for all three; Zed won more in absolute terms; Ann and Ben tie fully.
    zed, ben, ann = (factory.user(n, manager=boss) for n in ("Zed", "Ben", "Ann"))
    won(factory, zed, 10000)
    quota(db_session, zed, 20000)
    for rep in (ben, ann):
        won(factory, rep, 5000)
        quota(db_session, rep, 10000)
    body = client.get(f"/v1/teams/{boss.id}/scorecards", params=OCTOBER).json()
    assert [(c["rep_name"], c["rank"]) for c in body["scorecards"]] == [("Zed", 1), ("Ann", 2), ("Ben", 3)]


def test_team_totals_are_rates_of_sums_and_segments_are_counted(
    client: TestClient, factory: Factory, db_session: Session, set_now: Callable[[datetime], None]
) -> None:
    boss = factory.user("Boss")
    star, poor, unquoted, inactive = (
        factory.user("Star", manager=boss),
        factory.user("Poor", manager=boss),
        factory.user("Unquoted", manager=boss),
        factory.user("Gone", manager=boss, active=False),
    )
    won(factory, star, 13000)
    quota(db_session, star, 10000)  # pace 1.3: star
    won(factory, poor, 1000)
    factory.opportunity(poor, created=datetime(2026, 10, 2, tzinfo=UTC), amount=500, lost=True)
    quota(db_session, poor, 10000)  # pace 0.1: poor
    factory.opportunity(unquoted, created=datetime(2026, 10, 3, tzinfo=UTC), amount=700)
    won(factory, inactive, 99999)

    body = client.get(f"/v1/teams/{boss.id}/scorecards", params=OCTOBER).json()
    assert [c["rep_name"] for c in body["scorecards"]] == ["Star", "Poor", "Unquoted"]
    totals = body["totals"]
    assert totals["won_count"] == 2
    assert totals["won_amount"] == 14000.0
    assert totals["lost_count"] == 1
    assert totals["win_rate"] == round(2 / 3, 4)  # of the sums, not the mean of 1.0, 0.5 and null
    assert totals["opportunity_starts"] == 4
    assert totals["dollars_in_starts"] == 13000 + 1000 + 500 + 700
    assert totals["quota"] == 20000.0
    assert totals["attainment"] == 0.7
    assert body["segment_distribution"] == {
        "poor": 1,
        "low_core": 0,
        "core": 0,
        "high_core": 0,
        "star": 1,
        "none": 1,
    }


def test_org_scope_includes_reports_of_reports(
    client: TestClient, factory: Factory, set_now: Callable[[datetime], None]
) -> None:
    vp = factory.user("Vera VP")
    manager = factory.user("Manny", manager=vp)
    rep = factory.user("Rory", manager=manager)
    won(factory, rep, 100)
    team = client.get(f"/v1/teams/{vp.id}/scorecards", params=OCTOBER).json()
    org = client.get(f"/v1/teams/{vp.id}/scorecards", params={**OCTOBER, "scope": "org"}).json()
    assert [c["rep_name"] for c in team["scorecards"]] == ["Manny"]
    assert sorted(c["rep_name"] for c in org["scorecards"]) == ["Manny", "Rory"]


amounts = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # wins
        st.integers(min_value=0, max_value=3),  # losses
        st.integers(min_value=1, max_value=50) | st.none(),  # quota in thousands, or none
        st.integers(min_value=1, max_value=20),  # deal size in thousands
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reps=amounts)
def test_team_scorecard_equals_each_reps_scorecard_and_follows_the_rank_rule(
    client: TestClient,
    factory: Factory,
    db_session: Session,
    set_now: Callable[[datetime], None],
    reps: list[tuple[int, int, int | None, int]],
) -> None:
    boss = factory.user("Boss")  # a new team per example; earlier examples' rows stay apart
    for index, (wins, losses, quota_k, size_k) in enumerate(reps):
        rep = factory.user(f"Rep {index:02d}", manager=boss)
        for _ in range(wins):
            won(factory, rep, size_k * 1000)
        for _ in range(losses):
            factory.opportunity(rep, created=datetime(2026, 10, 4, tzinfo=UTC), amount=size_k, lost=True)
        if quota_k is not None:
            quota(db_session, rep, quota_k * 1000)

    team = client.get(f"/v1/teams/{boss.id}/scorecards", params=OCTOBER).json()
    cards = team["scorecards"]
    assert len(cards) == len(reps)
    for card in cards:
        alone = client.get(f"/v1/reps/{card['rep_id']}/scorecard", params=OCTOBER).json()
        assert alone == card

    def rule(card: dict[str, object]) -> tuple[int, float, float, str]:
        pace = card["pace"]
        return (
            pace is None,
            -float(pace) if isinstance(pace, float) else 0.0,
            -float(card["won_amount"]),  # type: ignore[arg-type]
            str(card["rep_name"]),
        )  # type: ignore[return-value]

    assert cards == sorted(cards, key=rule)
    assert [c["rank"] for c in cards] == list(range(1, len(cards) + 1))
    assert team["totals"]["won_count"] == sum(c["won_count"] for c in cards)
    assert team["totals"]["won_amount"] == sum(c["won_amount"] for c in cards)


def test_a_quota_change_shows_in_the_next_team_scorecard_read(
    client: TestClient, factory: Factory, db_session: Session, set_now: Callable[[datetime], None]
) -> None:
    boss = factory.user("Boss")
    rep = factory.user("Rep", manager=boss)
    won(factory, rep, 5000)
    quota(db_session, rep, 10000)

    first = client.get(f"/v1/teams/{boss.id}/scorecards", params=OCTOBER).json()
    again = client.get(f"/v1/teams/{boss.id}/scorecards", params=OCTOBER).json()  # served from the cache
    client.put(f"/v1/reps/{rep.id}/quotas/2026-10", json={"amount": 20000})
    after = client.get(f"/v1/teams/{boss.id}/scorecards", params=OCTOBER).json()

    assert first == again
    assert first["scorecards"][0]["attainment"] == 0.5
    assert after["scorecards"][0]["attainment"] == 0.25  # 5000 / 20000
    rep_card = client.get(f"/v1/reps/{rep.id}/scorecard", params=OCTOBER).json()
    assert rep_card["attainment"] == 0.25


def test_requirement_and_sync_changes_show_at_once(
    client: TestClient, factory: Factory, db_session: Session, set_now: Callable[[datetime], None]
) -> None:
    boss = factory.user("Boss")
    rep = factory.user("Rep", manager=boss)
    factory.task(rep, subtype="Call", completed=datetime(2026, 10, 2, tzinfo=UTC))
    client.put("/v1/activity-requirements", json={"default": {"calls_per_week": 7}})
    before = client.get(f"/v1/reps/{rep.id}/scorecard", params=OCTOBER).json()
    client.put("/v1/activity-requirements", json={"default": {"calls_per_week": 1}})
    after = client.get(f"/v1/reps/{rep.id}/scorecard", params=OCTOBER).json()
    assert before["process_to_requirement"] == round(1 / 31, 4)  # 7 a week over 31 days = 31
    assert after["process_to_requirement"] == round(7 / 31, 4)  # 1 a week over 31 days = 31/7
