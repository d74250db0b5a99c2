"""Skill or will, with figures computed by hand, and willingness_to_change on the scorecard.

October 2026 (finished at the test's clock, 2026-11-10), quota 10,000 for each rep:
- Alice: won 12,000 (pace 1.2); three held developmental sessions, each with a missed
  commitment; 4 commitments due in the window, 1 kept -> willingness 0.25 -> `will`, and after
  3 such sessions consequence coaching is recommended.
- Bob: won 5,000 (pace 0.5); 2 commitments due, both kept (one completed early) -> willingness
  1.0 -> `skill`, developmental.
- Carol: won 10,000 (pace 1.0), no commitments -> `on_track`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from salescoach_core.models import SfUser
from tests.coaching.conftest import NOW, Team, new_item, new_session, ok
from tests.plugins.factories import Factory

FOLLOW_UP = {"follow_up_at": "2026-11-30T10:00:00Z"}


def won(factory: Factory, rep: SfUser, amount: int) -> None:
    factory.opportunity(rep, created=datetime(2026, 9, 1, tzinfo=UTC), amount=amount, won=True,
                        close=date(2026, 10, 15))  # fmt: skip


def held_session(
    client: TestClient,
    set_now: Callable[[datetime], None],
    rep: SfUser,
    when: str,
    items: list[tuple[str, str | None]],
) -> str:
    """A held developmental session with rep items: (due date, completed on or None). The items
    are agreed at the session and completed on their day (a completion date cannot precede the
    item or follow today); the session is closed at the test's clock."""
    set_now(datetime.fromisoformat(when))
    session = new_session(client, rep, scheduled_at=when)
    for due, completed in items:
        item = new_item(client, session["id"], due_date=due)
        if completed:
            set_now(datetime.fromisoformat(f"{completed}T17:00:00+00:00"))
            ok(
                client.patch(
                    f"/v1/action-items/{item['id']}", json={"status": "completed", "completed_on": completed}
                )
            )
    set_now(NOW)
    ok(client.post(f"/v1/sessions/{session['id']}/hold", json=FOLLOW_UP))
    return str(session["id"])


@pytest.fixture
def quotas(client: TestClient, team: Team, factory: Factory) -> SfUser:
    carol = factory.user("Carol Clark", manager=team.maya)
    for rep in (team.alice, team.bob, carol):
        ok(client.put(f"/v1/reps/{rep.id}/quotas/2026-10", json={"amount": 10000}))
    return carol


def test_will_when_commitments_are_missed_and_consequence_after_three_sessions(
    client: TestClient,
    team: Team,
    factory: Factory,
    quotas: SfUser,
    set_now: Callable[[datetime], None],
) -> None:
    won(factory, team.alice, 12000)
    held_session(client, set_now, team.alice, "2026-09-01T10:00:00Z", [("2026-09-10", None)])
    held_session(client, set_now, team.alice, "2026-09-20T10:00:00Z", [("2026-10-01", "2026-10-03")])  # late
    held_session(
        client,
        set_now,
        team.alice,
        "2026-10-05T10:00:00Z",
        [("2026-10-12", None), ("2026-10-20", "2026-10-19")],
    )

    diagnosis = ok(client.get(f"/v1/reps/{team.alice.id}/diagnosis", params={"period": "2026-10"}))
    assert diagnosis["diagnosis"] == "will"
    assert diagnosis["commitments_due"] == 4
    assert diagnosis["commitments_kept"] == 1
    assert diagnosis["willingness_to_change"] == 0.25
    assert diagnosis["pace"] == 1.2
    assert diagnosis["missed_session_streak"] == 3
    assert diagnosis["recommended_mode"] == "consequence"
    assert (diagnosis["commitment_window_from"], diagnosis["commitment_window_to"]) == (
        "2026-08-03",
        "2026-11-01",
    )

    card = ok(client.get(f"/v1/reps/{team.alice.id}/scorecard", params={"period": "2026-10"}))
    assert card["willingness_to_change"] == 0.25


def test_two_missed_sessions_are_not_enough_for_consequence(
    client: TestClient,
    team: Team,
    factory: Factory,
    quotas: SfUser,
    set_now: Callable[[datetime], None],
) -> None:
    won(factory, team.alice, 12000)
    held_session(client, set_now, team.alice, "2026-09-20T10:00:00Z", [("2026-10-01", None)])
    held_session(client, set_now, team.alice, "2026-10-05T10:00:00Z", [("2026-10-12", None)])
    diagnosis = ok(client.get(f"/v1/reps/{team.alice.id}/diagnosis", params={"period": "2026-10"}))
    assert diagnosis["diagnosis"] == "will"
    assert diagnosis["missed_session_streak"] == 2
    assert diagnosis["recommended_mode"] == "developmental"


def test_a_kept_session_breaks_the_streak(
    client: TestClient,
    team: Team,
    factory: Factory,
    quotas: SfUser,
    set_now: Callable[[datetime], None],
) -> None:
    held_session(client, set_now, team.alice, "2026-09-01T10:00:00Z", [("2026-09-10", None)])
    held_session(client, set_now, team.alice, "2026-09-10T10:00:00Z", [("2026-09-15", None)])
    held_session(client, set_now, team.alice, "2026-09-20T10:00:00Z", [("2026-10-01", "2026-09-30")])
    held_session(client, set_now, team.alice, "2026-10-05T10:00:00Z", [("2026-10-12", None)])
    diagnosis = ok(client.get(f"/v1/reps/{team.alice.id}/diagnosis", params={"period": "2026-10"}))
    assert diagnosis["missed_session_streak"] == 1
    assert diagnosis["recommended_mode"] == "developmental"


def test_skill_when_commitments_are_kept_but_results_short(
    client: TestClient,
    team: Team,
    factory: Factory,
    quotas: SfUser,
    set_now: Callable[[datetime], None],
) -> None:
    won(factory, team.bob, 5000)
    held_session(
        client,
        set_now,
        team.bob,
        "2026-10-01T10:00:00Z",
        [("2026-10-10", "2026-10-08"), ("2026-10-20", "2026-10-20")],
    )
    diagnosis = ok(client.get(f"/v1/reps/{team.bob.id}/diagnosis", params={"period": "2026-10"}))
    assert diagnosis["diagnosis"] == "skill"
    assert diagnosis["willingness_to_change"] == 1.0
    assert diagnosis["pace"] == 0.5
    assert diagnosis["recommended_mode"] == "developmental"


def test_on_track_with_results_at_goal_and_no_commitments(
    client: TestClient, team: Team, factory: Factory, quotas: SfUser
) -> None:
    won(factory, quotas, 10000)
    diagnosis = ok(client.get(f"/v1/reps/{quotas.id}/diagnosis", params={"period": "2026-10"}))
    assert diagnosis["diagnosis"] == "on_track"
    assert diagnosis["willingness_to_change"] is None
    assert diagnosis["commitments_due"] == 0


def test_items_not_yet_due_canceled_or_owned_by_the_coach_do_not_count(
    client: TestClient, team: Team, quotas: SfUser
) -> None:
    session = new_session(client, team.bob)
    new_item(client, session["id"], due_date="2026-11-09")  # due yesterday, open: missed
    new_item(client, session["id"], due_date="2026-11-10")  # due today: not missed yet
    new_item(client, session["id"], due_date="2026-11-25")  # not due yet
    kept = new_item(client, session["id"], due_date="2026-11-26")
    ok(client.patch(f"/v1/action-items/{kept['id']}", json={"status": "completed"}))  # early: counts, kept
    canceled = new_item(client, session["id"], due_date="2026-11-01")
    ok(client.patch(f"/v1/action-items/{canceled['id']}", json={"status": "canceled"}))
    new_item(client, session["id"], owner="coach", due_date="2026-11-01")
    card = ok(client.get(f"/v1/reps/{team.bob.id}/scorecard", params={"period": "2026-11"}))
    assert card["willingness_to_change"] == 0.5


def test_results_short_with_no_commitments_due_is_not_called_skill(
    client: TestClient, team: Team, factory: Factory, quotas: SfUser
) -> None:
    # Bob: 5,000 of 10,000 in finished October (pace 0.5 < Core), and no action items at all:
    # nothing says whether he keeps commitments, so neither skill nor will can be told.
    won(factory, team.bob, 5000)
    diagnosis = ok(client.get(f"/v1/reps/{team.bob.id}/diagnosis", params={"period": "2026-10"}))
    assert diagnosis["commitments_due"] == 0
    assert diagnosis["willingness_to_change"] is None
    assert diagnosis["pace"] == 0.5
    assert diagnosis["diagnosis"] == "no_commitments_due"
    assert diagnosis["recommended_mode"] == "developmental"
    assert "commitments kept" not in diagnosis["reason"]


def test_no_quota_and_no_commitments_does_not_claim_commitments_kept(client: TestClient, team: Team) -> None:
    diagnosis = ok(client.get(f"/v1/reps/{team.bob.id}/diagnosis", params={"period": "2026-10"}))
    assert diagnosis["commitments_due"] == 0
    assert "commitments kept" not in diagnosis["reason"]


@pytest.fixture
def december(client: TestClient, team: Team) -> None:
    """Quota 10,000 for December 2026 (1 December is a Tuesday) for Alice and Bob; no deals won."""
    for rep in (team.alice, team.bob):
        ok(client.put(f"/v1/reps/{rep.id}/quotas/2026-12", json={"amount": 10000}))


def test_early_in_a_running_period_the_verdict_and_the_segment_are_too_early(
    client: TestClient, team: Team, december: None, set_now: Callable[[datetime], None]
) -> None:
    # 1 December, noon: no working day of the month has passed yet (the default needs 5), so a
    # pace of 0 says nothing yet: no `poor`, no `skill`.
    set_now(datetime(2026, 12, 1, 12, tzinfo=UTC))
    diagnosis = ok(client.get(f"/v1/reps/{team.bob.id}/diagnosis", params={"period": "2026-12"}))
    assert diagnosis["diagnosis"] == "too_early"
    assert diagnosis["recommended_mode"] == "developmental"
    assert diagnosis["segment"] is None
    assert diagnosis["elapsed_working_days"] == 0
    assert diagnosis["min_elapsed_working_days"] == 5
    assert diagnosis["reason"].endswith("; 0 working days of 2026-12 have passed, results are judged from 5")

    # Wednesday 2 December: Tuesday is over, one working day, in the singular.
    set_now(datetime(2026, 12, 2, 12, tzinfo=UTC))
    one_day = ok(client.get(f"/v1/reps/{team.bob.id}/diagnosis", params={"period": "2026-12"}))
    assert one_day["reason"].endswith("; 1 working day of 2026-12 has passed, results are judged from 5")
    set_now(datetime(2026, 12, 1, 12, tzinfo=UTC))

    card = ok(client.get(f"/v1/reps/{team.bob.id}/scorecard", params={"period": "2026-12"}))
    assert card["pace"] == 0
    assert card["segment"] is None
    assert card["segment_reason"] == "too_early"

    report = ok(client.get(f"/v1/teams/{team.maya.id}/scorecards", params={"period": "2026-12"}))
    assert [c["segment_reason"] for c in report["scorecards"]] == ["too_early", "too_early"]
    assert report["totals"]["segment"] is None
    assert report["totals"]["segment_reason"] == "too_early"


def test_the_verdict_comes_once_the_minimum_of_working_days_has_passed(
    client: TestClient, team: Team, december: None, set_now: Callable[[datetime], None]
) -> None:
    # Working days of December 2026 before 7 December: Tue 1 to Fri 4 = 4 (the weekend does
    # not count); before 8 December: those and Mon 7 = 5, the default minimum.
    set_now(datetime(2026, 12, 7, 23, tzinfo=UTC))
    diagnosis = ok(client.get(f"/v1/reps/{team.bob.id}/diagnosis", params={"period": "2026-12"}))
    assert (diagnosis["diagnosis"], diagnosis["elapsed_working_days"]) == ("too_early", 4)

    set_now(datetime(2026, 12, 8, 0, 30, tzinfo=UTC))
    diagnosis = ok(client.get(f"/v1/reps/{team.bob.id}/diagnosis", params={"period": "2026-12"}))
    assert diagnosis["elapsed_working_days"] == 5
    assert diagnosis["diagnosis"] == "no_commitments_due"  # pace 0, nothing due
    card = ok(client.get(f"/v1/reps/{team.bob.id}/scorecard", params={"period": "2026-12"}))
    assert (card["segment"], card["segment_reason"]) == ("poor", None)


def test_missed_commitments_are_will_even_early_in_the_period(
    client: TestClient, team: Team, december: None, set_now: Callable[[datetime], None]
) -> None:
    # Commitments missed before the period began are facts already: the early rule is about
    # results, so `will` is not held back.
    held_session(client, set_now, team.alice, "2026-11-02T10:00:00Z", [("2026-11-05", None)])
    set_now(datetime(2026, 12, 1, 12, tzinfo=UTC))
    diagnosis = ok(client.get(f"/v1/reps/{team.alice.id}/diagnosis", params={"period": "2026-12"}))
    assert (diagnosis["commitments_due"], diagnosis["commitments_kept"]) == (1, 0)
    assert diagnosis["diagnosis"] == "will"


def test_no_quota_is_the_segment_reason_whatever_the_day(client: TestClient, team: Team) -> None:
    card = ok(client.get(f"/v1/reps/{team.bob.id}/scorecard", params={"period": "2026-10"}))
    assert (card["segment"], card["segment_reason"]) == (None, "no_quota")
