"""Freshness without spending API calls: a worker idle between passes (a 300 s interval) sends
webhooks and write-back within seconds of the API write, woken by PostgreSQL NOTIFY on commit."""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from salescoach_sync.budget import pace
from salescoach_sync.extract import StopToken
from salescoach_sync.worker import run_worker
from tests.integrations.conftest import Receiver, _serve
from tests.writeback.conftest import CoachingEnv, CoachingEnvFactory

BOUND_SECONDS = 5.0
SAMPLES = 6


def _until(predicate: Callable[[], bool], timeout: float) -> float:
    """Seconds until `predicate()` held; fails after `timeout`."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]  # nearest rank


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The webhook test receiver on 127.0.0.1 (tests/integrations)."""
    yield from _serve(Receiver(), None)


@pytest.fixture
def idle_worker(coaching_env_factory: CoachingEnvFactory) -> Iterator[CoachingEnv]:
    env = coaching_env_factory(sync_interval_seconds=300, webhook_allow_private_targets=True)
    stop = StopToken()
    thread = threading.Thread(
        target=run_worker, args=(env.sync.settings, env.sync.engine), kwargs={"stop": stop}
    )
    thread.start()
    try:
        # The worker's first pass is done when it records its calls; from then on it idles.
        _until(lambda: env.sync.table_count("sync_api_usage") > 0, 60)
        yield env
    finally:
        stop.request()
        thread.join(30)
        assert not thread.is_alive()


def test_webhooks_and_writeback_arrive_within_seconds_while_the_worker_idles(
    idle_worker: CoachingEnv, receiver: Receiver
) -> None:
    env = idle_worker
    env.ok(env.api.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["session.held"]}), 201)
    rep_id, _ = env.rep_with_opportunity()
    used_before = env.sync.emulator.stats()["apiUsage"]["used"]
    webhook_seconds, writeback_seconds = [], []
    for n in range(SAMPLES):
        session = env.schedule(rep_id)
        due = env.today() + timedelta(days=7)
        item = env.item(session["id"], owner="rep", due_date=due)  # writes the outbox row
        writeback_seconds.append(
            _until(
                lambda item=item: (
                    env.ok(env.api.get(f"/v1/action-items/{item['id']}"))["writeback"]["status"] == "sent"
                ),
                2 * BOUND_SECONDS,
            )
        )
        env.hold(session["id"])  # the API write that emits session.held
        webhook_seconds.append(_until(lambda n=n: len(receiver.requests) > n, 2 * BOUND_SECONDS))
        assert json.loads(receiver.requests[n][1])["data"]["session_id"] == session["id"]

    # Every send happened between passes: the 300 s pause was not waited out.
    assert p95(webhook_seconds) <= BOUND_SECONDS, webhook_seconds
    assert p95(writeback_seconds) <= BOUND_SECONDS, writeback_seconds
    # Waking costs no API call beyond the write-back requests themselves (one per item).
    assert env.sync.emulator.stats()["apiUsage"]["used"] - used_before <= SAMPLES
    print(
        f"webhook p50 {statistics.median(webhook_seconds):.3f} s p95 {p95(webhook_seconds):.3f} s; "
        f"write-back p50 {statistics.median(writeback_seconds):.3f} s p95 {p95(writeback_seconds):.3f} s"
    )


SHORT_INTERVAL_SECONDS = 4


def test_a_task_completed_in_salesforce_completes_its_item_within_one_sync_interval(
    coaching_env_factory: CoachingEnvFactory,
) -> None:
    """The other direction rides on the sync pass: from the rep's click in Salesforce to the item
    completed here takes at most one interval plus one pass, with the worker running."""
    env = coaching_env_factory(sync_interval_seconds=SHORT_INTERVAL_SECONDS)
    stop = StopToken()
    thread = threading.Thread(
        target=run_worker, args=(env.sync.settings, env.sync.engine), kwargs={"stop": stop}
    )
    thread.start()
    try:
        rep_id, _ = env.rep_with_opportunity()
        session = env.schedule(rep_id)
        item = env.item(session["id"], owner="rep", due_date=env.today() + timedelta(days=3))

        def state() -> dict[str, object]:
            return env.ok(env.api.get(f"/v1/action-items/{item['id']}"))  # type: ignore[no-any-return]

        _until(lambda: state()["writeback"]["sf_task_id"] is not None, 2 * BOUND_SECONDS)  # type: ignore[index]
        task_id = str(state()["writeback"]["sf_task_id"])  # type: ignore[index]
        env.complete_task(task_id)
        passes_before = _passes(env)
        seconds = _until(lambda: state()["status"] == "completed", 3 * SHORT_INTERVAL_SECONDS + 30)
    finally:
        stop.request()
        thread.join(30)
        assert not thread.is_alive()
    completed = state()
    assert (completed["completed_source"], completed["completed_on"]) == (
        "salesforce",
        env.today().isoformat(),
    )
    # The pass that started after the click brought it: at most one interval of waiting for it,
    # then the pass itself (one or two passes counted, as the click may land during a pass).
    assert 1 <= _passes(env) - passes_before <= 2
    print(
        f"Task completed in Salesforce -> item completed: {seconds:.2f} s"
        f" at a {SHORT_INTERVAL_SECONDS} s interval"
    )


def _passes(env: CoachingEnv) -> int:
    with env.sync.engine.connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(SUM(passes), 0) FROM sync_api_usage")).scalar_one())


def test_the_worker_records_its_calls_and_stretches_its_pause_to_the_budget(
    coaching_env_factory: CoachingEnvFactory,
) -> None:
    env = coaching_env_factory(sf_daily_call_budget=100)
    run_worker(env.sync.settings, env.sync.engine, interval=60, max_passes=1)
    with env.sync.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM sync_api_usage")).mappings().one()
    used = env.sync.emulator.stats()["apiUsage"]["used"]
    assert row["passes"] == 1
    assert 0 < row["calls"] <= used  # the emulator also counted the env's own first sync
    assert row["budget"] == 100
    # What is left of 100 calls, spent a pass's cost at a time over the rest of the UTC day.
    now = datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    left = (midnight - now).total_seconds()
    remaining = 100 - row["calls"]
    expected = left if remaining < row["calls"] else max(60.0, left * row["calls"] / remaining)
    assert row["interval_seconds"] == pytest.approx(expected, rel=0.01)
    assert row["interval_seconds"] > 60
    assert row["projected_calls"] <= 100


def test_pace_stays_at_the_interval_when_the_budget_allows_and_stretches_when_not() -> None:
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 43,200 s left in the UTC day
    roomy = pace(base_interval=60, budget=3000, calls_today=720, passes_today=720, now=noon)
    # 1 call a pass, 2,280 left for 720 more passes at 60 s: the interval holds.
    assert (roomy.interval_seconds, roomy.stretched) == (60, False)
    assert roomy.projected_calls == 720 + 720
    tight = pace(base_interval=60, budget=1000, calls_today=720, passes_today=720, now=noon)
    # 280 calls left for 43,200 s at 1 call a pass: one pass every 43,200 / 280 s.
    assert tight.interval_seconds == pytest.approx(43_200 / 280)
    assert tight.stretched
    assert tight.projected_calls == 1000
    spent = pace(base_interval=60, budget=720, calls_today=720, passes_today=720, now=noon)
    assert spent.interval_seconds == 43_200  # nothing left: the next pass is tomorrow's
