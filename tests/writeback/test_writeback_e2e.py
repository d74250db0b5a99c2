"""End to end against the emulator over HTTPS: goal, session and action items through the API;
write-back; exactly one Task per item with the right fields; the rep completes a Task in
Salesforce; the next sync completes the item, and willingness_to_change and the diagnosis move
as docs/domain.md says. Then the same under injected faults, and a permanent error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from salescoach_sync.coaching_hooks import after_sync_pass
from salescoach_sync.writeback import run_writeback
from tests.writeback.conftest import PUBLIC_URL, CoachingEnv, CoachingEnvFactory

FAULTS = (
    "seed=5,"
    "500@0.2/services/data/v62.0/composite,"
    "dropafter@0.2/services/data/v62.0/composite,"
    "lock@0.1/services/data/v62.0/composite"
)


def build_plan(env: CoachingEnv, rep_id: str, opportunity_id: str) -> dict[str, Any]:
    """Goal, session and items as a coach would. Commitments: one missed (due yesterday, open),
    three kept (completed on their due dates), one due today (open), one for the coach."""
    today = env.today()
    coach_id = env.ok(env.api.get(f"/v1/reps/{rep_id}"))["manager_id"]  # the admin key acts for no one
    goal = env.ok(
        env.api.post(
            f"/v1/reps/{rep_id}/goals",
            json={"kind": "activity", "period": today.strftime("%Y-%m"), "metric": "calls",
                  "cadence": "per_week", "target": 25, "measurement_plan": "Calls logged in Salesforce",
                  "coach_id": coach_id},
        ),
        201,
    )  # fmt: skip
    session = env.schedule(rep_id)
    # The items were agreed five days ago: a completion date cannot precede its item.
    env.set_clock(datetime.now(UTC) - timedelta(days=5))
    due_today = env.item(session["id"], description="Call the CFO about the renewal", due_date=today,
                         opportunity_id=opportunity_id)  # fmt: skip
    missed = env.item(session["id"], description="Update close dates", due_date=today - timedelta(days=1))
    kept = [
        env.item(session["id"], description=f"Prospect list {days}", due_date=today - timedelta(days=days))
        for days in (2, 3, 4)
    ]
    env.set_clock(None)
    for item in kept:
        env.ok(env.api.patch(f"/v1/action-items/{item['id']}",
                             json={"status": "completed", "completed_on": item["due_date"]}))  # fmt: skip
    coach = env.item(session["id"], owner="coach", description="Send call recordings", due_date=today)
    env.hold(session["id"])
    return {"goal": goal, "session": session, "due_today": due_today, "missed": missed, "kept": kept,
            "coach": coach}  # fmt: skip


def mirrored(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan["due_today"], plan["missed"], *plan["kept"]]


def test_items_become_one_task_each_and_a_task_closed_in_salesforce_completes_its_item(
    coaching_env_factory: CoachingEnvFactory,
) -> None:
    env = coaching_env_factory()
    rep_id, opportunity_id = env.rep_with_opportunity()
    plan = build_plan(env, rep_id, opportunity_id)
    assert env.outbox_count() == 6  # five rep items and the activity goal; not the coach's item

    report = run_writeback(env.sync.settings, env.sync.engine)

    assert (report.sent, report.failed, report.requests) == (6, 0, 1)
    assert env.outbox_count() == 0
    tasks = env.tasks_by_key()
    keys = {f"ai-{i['id']}" for i in mirrored(plan)} | {f"goal-{plan['goal']['id']}"}
    assert set(tasks) == keys
    assert all(len(found) == 1 for found in tasks.values()), "a duplicate Task"
    task = tasks[f"ai-{plan['due_today']['id']}"][0]
    assert task["OwnerId"] == rep_id
    assert task["Subject"] == "Coaching: Call the CFO about the renewal"
    assert (
        task["Description"]
        == f"Call the CFO about the renewal\n\n{PUBLIC_URL}/v1/action-items/{plan['due_today']['id']}"
    )
    assert task["ActivityDate"] == env.today().isoformat()
    assert task["Status"] == "Not Started"
    assert task["WhatId"] == opportunity_id
    assert tasks[f"ai-{plan['kept'][0]['id']}"][0]["Status"] == "Completed"
    goal_task = tasks[f"goal-{plan['goal']['id']}"][0]
    assert goal_task["Subject"].startswith("Coaching goal: activity: calls 25 per week")
    item = env.ok(env.api.get(f"/v1/action-items/{plan['due_today']['id']}"))
    assert item["writeback"]["status"] == "sent"
    assert item["writeback"]["sf_task_id"] == task["Id"]
    assert item["writeback"]["sent_version"] == 1

    # Before: 3 of 4 commitments due were kept (the one due today is not due yet): 0.75 -> will.
    before = env.ok(env.api.get(f"/v1/reps/{rep_id}/diagnosis"))
    assert (before["commitments_due"], before["commitments_kept"]) == (4, 3)
    assert before["willingness_to_change"] == 0.75
    assert before["diagnosis"] == "will"

    # The rep completes the Task in Salesforce; the next sync brings the completion back.
    sf = env.sync.salesforce()
    env.complete_task(task["Id"], sf)
    assert env.sync.run().ok

    item = env.ok(env.api.get(f"/v1/action-items/{plan['due_today']['id']}"))
    assert item["status"] == "completed"
    assert item["completed_on"] == env.today().isoformat()
    assert item["completed_source"] == "salesforce"
    after = env.ok(env.api.get(f"/v1/reps/{rep_id}/diagnosis"))
    assert (after["commitments_due"], after["commitments_kept"]) == (5, 4)
    assert after["willingness_to_change"] == 0.8
    assert after["diagnosis"] != "will"
    card = env.ok(
        env.api.get(f"/v1/reps/{rep_id}/scorecard", params={"period": env.today().strftime("%Y-%m")})
    )
    assert card["willingness_to_change"] == 0.8

    # A change here updates the same Task there; nothing new is created.
    env.ok(
        env.api.patch(
            f"/v1/action-items/{plan['missed']['id']}", json={"description": "Update all close dates"}
        )
    )
    assert after_sync_pass(env.sync.settings, env.sync.engine).sent == 1
    tasks = env.tasks_by_key(sf)
    assert set(tasks) == keys
    assert all(len(found) == 1 for found in tasks.values())
    assert tasks[f"ai-{plan['missed']['id']}"][0]["Subject"] == "Coaching: Update all close dates"
    # The completed Task stays completed: an open item's later sends leave Status alone.
    assert tasks[f"ai-{plan['due_today']['id']}"][0]["Status"] == "Completed"


def test_faults_never_duplicate_a_task(coaching_env_factory: CoachingEnvFactory) -> None:
    # Batches of 5, so the faults land on many requests.
    env = coaching_env_factory(writeback_batch_size=5)
    rep_id, opportunity_id = env.rep_with_opportunity()
    plan = build_plan(env, rep_id, opportunity_id)
    session = env.schedule(rep_id)
    extra = [env.item(session["id"], description=f"Extra {n}", due_date=env.today()) for n in range(40)]
    expected = {f"ai-{i['id']}" for i in [*mirrored(plan), *extra]} | {f"goal-{plan['goal']['id']}"}
    env.sync.emulator.set_faults(FAULTS)

    sent = failed = requests = 0
    for _ in range(20):
        report = run_writeback(env.sync.settings, env.sync.engine)
        sent, failed, requests = sent + report.sent, failed + report.failed, requests + report.requests
        if env.outbox_count() == 0:
            break
    stats = env.sync.emulator.stats()
    faults = stats["faults"]
    env.sync.emulator.set_faults("")

    assert env.outbox_count() == 0
    assert (sent, failed) == (len(expected), 0)
    tasks = env.tasks_by_key()
    assert set(tasks) == expected
    assert all(len(found) == 1 for found in tasks.values()), "a fault produced a duplicate Task"
    assert faults.get("dropafter", 0) > 0
    assert faults.get("status_500", 0) > 0
    assert faults.get("lock", 0) > 0
    print(
        f"\nfaults test: {len(expected)} items, {requests} batches, "
        f"{stats['handlers'].get('collections_upsert', 0)} upserts served (plus the 500s), "
        f"injected {dict(faults)}"
    )

    # And the loop closes as without faults.
    task = tasks[f"ai-{plan['due_today']['id']}"][0]
    env.complete_task(task["Id"])
    assert env.sync.run().ok
    assert env.ok(env.api.get(f"/v1/action-items/{plan['due_today']['id']}"))["status"] == "completed"


def test_a_permanent_error_is_recorded_on_the_item_and_not_retried(
    coaching_env_factory: CoachingEnvFactory,
) -> None:
    env = coaching_env_factory()
    rep_id, opportunity_id = env.rep_with_opportunity()
    session = env.schedule(rep_id)
    bad = env.item(session["id"], due_date=env.today(), opportunity_id=opportunity_id)
    good = env.item(session["id"], due_date=env.today())
    # The API takes only the rep's synced opportunities; one the org no longer has (deleted
    # there since the last sync) is a well-formed Id it refuses: INVALID_CROSS_REFERENCE_KEY.
    with env.sync.engine.begin() as conn:
        conn.execute(
            text("UPDATE action_item SET opportunity_id = :gone WHERE id = :id"),
            {"gone": "006000000000999AAA", "id": bad["id"]},
        )

    report = run_writeback(env.sync.settings, env.sync.engine)

    assert (report.sent, report.failed) == (1, 1)
    assert env.outbox_count() == 0
    item = env.ok(env.api.get(f"/v1/action-items/{bad['id']}"))
    assert item["writeback"]["status"] == "failed"
    assert item["writeback"]["error_code"] == "INVALID_CROSS_REFERENCE_KEY"
    assert env.ok(env.api.get(f"/v1/action-items/{good['id']}"))["writeback"]["status"] == "sent"
    assert run_writeback(env.sync.settings, env.sync.engine).requests == 0
    # Fixing the item sends it again.
    env.ok(env.api.patch(f"/v1/action-items/{bad['id']}", json={"opportunity_id": None}))
    assert run_writeback(env.sync.settings, env.sync.engine).sent == 1
    with env.sync.engine.connect() as conn:
        status = conn.execute(
            text("SELECT writeback_status FROM action_item WHERE id = :id"), {"id": bad["id"]}
        )
        assert status.scalar_one() == "sent"
