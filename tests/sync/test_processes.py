"""The sync as separate processes: kill -9 at several points of a full sync (every object is
either complete or untouched, and a rerun converges), two workers started together syncing each
object once, and the worker stopping gracefully on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.plugins.sync import (
    FIELDS,
    TABLES,
    SyncEnv,
    SyncEnvFactory,
    assert_matches_org,
    log_events,
    read_until,
)

Event = dict[str, Any]
# Each job call is slowed a little, so a kill right after a log line lands before the next step.
SLOW_JOBS = "delay=0.15@1/services/data/v62.0/jobs"
DEBUG = {"SALESCOACH_LOG_LEVEL": "DEBUG", "SALESCOACH_SYNC_BULK_PAGE_RECORDS": "250"}
# The kill points below are named in sync order: one object at a time.
IN_ORDER = {**DEBUG, "SALESCOACH_SYNC_CONCURRENCY": "1"}


def _kill_at(
    env: SyncEnv, predicate: Callable[[Event], bool], *args: str, options: dict[str, str] = IN_ORDER
) -> None:
    process = env.spawn("run", *args, **options)
    try:
        read_until(process, predicate)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL


def _assert_complete_or_untouched(env: SyncEnv) -> list[str]:
    """Objects with a checkpoint equal the org; the others have no rows at all."""
    complete = []
    for object_name in FIELDS:
        state = env.state(object_name)
        if state is not None and state["last_full_sync_at"] is not None:
            assert_matches_org(env, [object_name])
            complete.append(object_name)
        else:
            assert env.table_count(TABLES[object_name]) == 0, f"{object_name} was partly loaded"
    return complete


def _is(event: str, object_name: str) -> Callable[[Event], bool]:
    return lambda e: e["event"] == event and e.get("object") == object_name


def test_kill_9_at_several_points_of_a_full_sync_then_rerun_converges(
    sync_env_factory: SyncEnvFactory,
) -> None:
    env = sync_env_factory(faults=SLOW_JOBS)

    # 1. While the first Opportunity Bulk job runs (User and OpportunityStage committed).
    _kill_at(env, _is("bulk_job_created", "Opportunity"))
    assert _assert_complete_or_untouched(env) == ["User", "OpportunityStage"]
    assert env.state("Opportunity")["last_status"] == "running"  # type: ignore[index]

    # 2. With the first Task result page copied into staging, before the second page.
    _kill_at(env, _is("sync_page_loaded", "Task"))
    complete = _assert_complete_or_untouched(env)
    assert "Task" not in complete
    assert "Opportunity" in complete

    # 3. Between objects: Task committed, Event just started.
    _kill_at(env, _is("sync_object_started", "Event"))
    assert _assert_complete_or_untouched(env) == ["User", "OpportunityStage", "Opportunity",
                                                 "OpportunityHistory", "Task"]  # fmt: skip

    # 4. During an incremental pass carrying a change and a delete.
    sf = env.salesforce()
    first = sf.query("SELECT Id FROM Task WHERE IsDeleted = false ORDER BY Id LIMIT 1")["records"][0]["Id"]
    sf.Task.update(first, {"Subject": "Before the crash"})
    sf.Opportunity.delete(
        sf.query("SELECT Id FROM Opportunity WHERE IsDeleted = false LIMIT 1")["records"][0]["Id"]
    )
    _kill_at(env, _is("sync_object_started", "OpportunityHistory"))

    process = env.spawn("run", SALESCOACH_SYNC_CONCURRENCY="1")
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr[-3000:]
    finished = {
        e["object"]: e for e in log_events(stderr.splitlines()) if e["event"] == "sync_object_finished"
    }
    assert finished["Event"]["mode"] == "full"
    assert finished["Task"]["mode"] == "incremental"
    assert finished["Task"]["updated"] == 1
    assert_matches_org(env)


def test_kill_9_with_objects_in_flight_together_then_rerun_converges(
    sync_env_factory: SyncEnvFactory,
) -> None:
    env = sync_env_factory(faults=SLOW_JOBS)
    together = {**DEBUG, "SALESCOACH_SYNC_CONCURRENCY": "3"}

    # Task's first page is in its staging table while other objects are mid-flight or done.
    _kill_at(env, _is("sync_page_loaded", "Task"), options=together)
    complete = _assert_complete_or_untouched(env)
    assert "Task" not in complete

    process = env.spawn("run", **together)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr[-3000:]
    finished = {
        e["object"]: e for e in log_events(stderr.splitlines()) if e["event"] == "sync_object_finished"
    }
    assert {name for name, e in finished.items() if e["mode"] == "full"} == set(FIELDS) - set(complete)
    assert_matches_org(env)


def test_two_workers_started_together_sync_each_object_once(sync_env_factory: SyncEnvFactory) -> None:
    env = sync_env_factory(faults="delay=0.05")
    processes = [env.spawn("run", SALESCOACH_LOG_LEVEL="DEBUG") for _ in range(2)]
    outputs = [p.communicate(timeout=180)[1] for p in processes]

    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    events = [e for output in outputs for e in log_events(output.splitlines())]
    full_syncs = Counter(
        e["object"] for e in events if e["event"] == "sync_object_finished" and e["mode"] == "full"
    )
    assert full_syncs == Counter(list(FIELDS))  # every object, exactly once across both
    assert env.emulator.stats()["handlers"]["bulk_jobs"] == len(FIELDS)  # one Bulk job each
    skipped = [e for e in events if e["event"] == "sync_object_locked_elsewhere"]
    assert skipped, "the workers never overlapped; the test proves nothing"
    assert_matches_org(env)


def test_worker_stops_gracefully_on_sigterm_and_rolls_back_the_object_in_progress(
    sync_env: SyncEnv,
) -> None:
    sync_env.emulator.set_faults(SLOW_JOBS)
    process = sync_env.spawn("worker", "--interval", "0.2", **IN_ORDER)
    try:
        read_until(process, _is("sync_page_loaded", "Task"))
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise

    assert process.returncode == 0, rest[-3000:]
    events = log_events(rest.splitlines())
    task = next(e for e in events if e["event"] == "sync_object_finished" and e["object"] == "Task")
    assert task["status"] == "interrupted"
    assert [e for e in events if e["event"] == "sync_worker_stopped"]
    assert sync_env.table_count("sf_task") == 0  # rolled back, nothing half-loaded
    assert sync_env.state("Task")["last_status"] == "interrupted"  # type: ignore[index]
    assert _assert_complete_or_untouched(sync_env) == ["User", "OpportunityStage", "Opportunity",
                                                      "OpportunityHistory"]  # fmt: skip


def test_worker_start_log_says_emulator_when_pointed_at_the_emulator(sync_env: SyncEnv) -> None:
    # The worker has the emulator's client id and secret, as under `salescoach run`.
    assert sync_env.process_env()["SALESCOACH_SF_CLIENT_ID"]
    process = sync_env.spawn("worker", "--interval", "60")
    try:
        seen = read_until(process, lambda e: e["event"] == "sync_worker_started")
    finally:
        process.terminate()
        process.communicate(timeout=30)
    started = log_events(seen)[-1]
    assert started["salesforce_mode"] == "emulator"
