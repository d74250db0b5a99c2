"""Emulator faults (5xx, dropped connections, timeouts, expiring tokens) survived with the same
result as a clean run, and the API quota guard stopping before the org's limit."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from salescoach_sync.report import SyncReport
from tests.plugins.sync import SyncEnvFactory, assert_matches_org, log_events


def _result(report: SyncReport, object_name: str) -> Any:
    return next(r for r in report.results if r.object_name == object_name)


def test_faults_are_survived_with_the_result_of_a_clean_run(sync_env_factory: SyncEnvFactory) -> None:
    env = sync_env_factory(
        # Every job call is slowed so the 3-second tokens expire several times mid-sync.
        faults="seed=5,500@0.08,503@0.04,drop@0.04,delay=1.5@0.02,delay=0.15@1/services/data/v62.0/jobs",
        token_ttl=3.0,
        sf_timeout_seconds=1.0,
        sync_bulk_page_records=300,
    )

    report = env.run()

    assert report.ok, report.first_error
    stats = env.emulator.stats()
    # Which requests draw a fault depends on how many the sync makes (token expiry is timed),
    # so count server errors of either kind: at least three were survived.
    assert stats["faults"].get("status_500", 0) + stats["faults"].get("status_503", 0) >= 3
    assert stats["faults"].get("drop", 0) >= 1
    assert stats["faults"].get("delay", 0) >= 1
    assert stats["tokensIssued"] >= 2  # logged in again after expiry
    env.emulator.set_faults("")
    assert_matches_org(env)

    sf = env.salesforce()
    task = sf.query("SELECT Id FROM Task WHERE IsDeleted = false ORDER BY Id LIMIT 1")["records"][0]["Id"]
    sf.Task.update(task, {"Subject": "Changed under faults"})
    sf.Task.delete(
        sf.query("SELECT Id FROM Task WHERE IsDeleted = false ORDER BY Id DESC LIMIT 1")["records"][0]["Id"]
    )
    env.emulator.set_faults("seed=9,500@0.1,drop@0.04,expire")  # `expire` revokes every token now

    report = env.run()

    assert report.ok, report.first_error
    env.emulator.set_faults("")
    assert _result(report, "Task").updated == 1
    assert _result(report, "Task").deleted == 1
    assert_matches_org(env)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_quota_guard_stops_before_the_limit_and_keeps_checkpoints(
    sync_env_factory: SyncEnvFactory, concurrency: int
) -> None:
    # The guard at the default share: 80%, 800 calls.
    env = sync_env_factory(daily_api_limit=1000, sync_concurrency=concurrency)
    env.emulator.set_api_usage(775)

    report = env.run()

    assert report.stopped_by_quota
    assert not report.ok
    statuses = [(r.object_name, r.status) for r in report.results]
    done = [name for name, status in statuses if status == "ok"]
    stopped = [r for r in report.results if r.status == "stopped"]
    assert done
    assert {status for _, status in statuses} == {"ok", "stopped"}
    # The objects in flight when the guard tripped stop (one at a time: the one in progress);
    # none starts after it.
    assert 1 <= len(stopped) <= concurrency
    if concurrency == 1:
        assert statuses[-1] == (stopped[0].object_name, "stopped")
    for result in stopped:
        assert "800" in (result.error or "") or "80%" in (result.error or "")
    used = env.emulator.stats()["apiUsage"]["used"]
    # Stopped at the share, far from the limit: each thread's call in flight may land once.
    assert 800 <= used <= 800 + concurrency, used
    # The objects in progress rolled back to nothing; finished ones kept their checkpoints.
    for result in stopped:
        state = env.state(result.object_name)
        assert state is not None
        assert state["last_status"] == "stopped"
        assert state["high_water_mark"] is None
    for name in done:
        assert env.state(name)["high_water_mark"] is not None  # type: ignore[index]

    env.emulator.set_api_usage(0)
    report = env.run()

    assert report.ok, report.first_error
    modes = {r.object_name: r.mode for r in report.results}
    assert all(modes[name] == "incremental" for name in done)
    assert all(modes[r.object_name] == "full" for r in stopped)
    assert_matches_org(env)


def test_request_limit_exceeded_is_reported_as_a_stop_never_a_success(
    sync_env_factory: SyncEnvFactory,
) -> None:
    env = sync_env_factory(daily_api_limit=500)
    env.emulator.set_api_usage(500)  # the org is out of calls before the process starts

    report = env.run()

    assert report.stopped_by_quota
    assert not report.ok
    # The objects that started together all stop; none starts after. The first call refused
    # names Salesforce's code; an object whose thread had not yet called when that answer came
    # in is stopped by the guard, which has by then read the org's usage from it.
    assert {r.status for r in report.results} == {"stopped"}
    errors = [r.error or "" for r in report.results]
    assert any("REQUEST_LIMIT_EXCEEDED" in error for error in errors), errors
    assert all("REQUEST_LIMIT_EXCEEDED" in error or "quota guard" in error for error in errors), errors
    assert len(report.results) <= env.settings.sync_concurrency


def test_cli_exits_3_with_a_message_when_the_guard_stops(sync_env_factory: SyncEnvFactory) -> None:
    env = sync_env_factory(daily_api_limit=1000)
    env.emulator.set_api_usage(790)

    process = env.spawn("run")
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 3, stderr[-2000:]
    assert "quota guard" in stderr
    assert "checkpoints are kept" in stderr
    finished = [e for e in log_events(stderr.splitlines()) if e["event"] == "sync_object_finished"]
    # The objects the guard stopped say so (any that finished before it tripped are ok).
    statuses = {e["status"] for e in finished}
    assert "stopped" in statuses
    assert statuses <= {"ok", "stopped"}


def test_query_timeout_splits_the_window_until_each_half_gets_through(
    sync_env_factory: SyncEnvFactory,
) -> None:
    # Bulk jobs matching more than 40 records time out: Task, Event and the history are read
    # in ever narrower SystemModstamp windows, and the result equals the org.
    env = sync_env_factory(faults="querytimeout=40")

    with structlog.testing.capture_logs() as logs:
        report = env.run()

    assert report.ok, report.first_error
    splits = [e for e in logs if e.get("event") == "sync_query_window_split"]
    assert {e["object"] for e in splits} >= {"Task", "Event"}
    env.emulator.set_faults("")
    assert_matches_org(env)


def test_query_timeout_on_the_smallest_window_fails_the_object_loudly(
    sync_env_factory: SyncEnvFactory,
) -> None:
    env = sync_env_factory(faults="querytimeout=0")

    report = env.run(objects=["Opportunity"])

    result = _result(report, "Opportunity")
    assert result.status == "failed"
    assert result.error_code == "query_timeout"
    assert "QUERY_TIMEOUT" in (result.error or "")
    assert "60 s" in (result.error or "")
