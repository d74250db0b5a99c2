"""API calls per quiet pass and per day, and webhook latency with the worker idle between passes.

`make bench` prints the table and writes bench-results/sync_budget.json. The org is the small
demo org of the sync tests (not the 1M one); the counts come from the emulator's own request
accounting (Sforce-Limit-Info api-usage)."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime

import pytest

from salescoach_core.database import session_scope
from salescoach_core.integrations import events, webhooks
from salescoach_sync.extract import StopToken
from salescoach_sync.worker import run_worker
from tests.bench.report import write_report
from tests.integrations.conftest import Receiver, _serve
from tests.plugins.sync import SyncEnvFactory
from tests.writeback.test_freshness import p95

QUIET_PASSES = 5
SAMPLES = 20
DAY_PASSES_AT_60S = 1440
# Describes are kept an hour; a quiet object needs none (only an object with records to read
# resolves its field list), so a quiet day describes nothing. Before: six an hour.
DESCRIBES_PER_DAY_BEFORE = 6 * 24
# Before this change, measured on the same demo org by the sync tests: one REST query per object
# and getDeleted for the four objects with deletes, every pass (11-12 on the generated orgs).
CALLS_PER_QUIET_PASS_BEFORE = 6 + 4


@pytest.mark.bench
def test_budget_bench(sync_env_factory: SyncEnvFactory) -> None:
    # A short overlap so the probes are trusted within seconds (at the default 120 s, two
    # minutes after the last change), getDeleted at its default cadence.
    env = sync_env_factory(sync_overlap_seconds=2, webhook_allow_private_targets=True)
    env.run()
    time.sleep(2.5)
    env.run()
    time.sleep(2.5)
    calls = []
    for _ in range(QUIET_PASSES):
        before = env.emulator.stats()["apiUsage"]["used"]
        assert env.run().ok
        calls.append(env.emulator.stats()["apiUsage"]["used"] - before)
    per_pass = statistics.mean(calls)

    receiver_gen = _serve(Receiver(), None)
    receiver = next(receiver_gen)
    stop = StopToken()
    settings = env.settings.model_copy(update={"sync_interval_seconds": 300})
    worker = threading.Thread(target=run_worker, args=(settings, env.engine), kwargs={"stop": stop})
    worker.start()
    try:
        while env.table_count("sync_api_usage") == 0:
            time.sleep(0.05)
        with session_scope(env.engine) as session:
            webhooks.create_endpoint(
                session, url=receiver.url, event_types=["goal.created"], secret=None, description=None,
                allow_private_targets=True, now=datetime.now(UTC),
            )  # fmt: skip
        latencies = []
        for n in range(SAMPLES):
            started = time.perf_counter()
            with session_scope(env.engine) as session:
                events.emit(session, "goal.created", {"n": n}, now=datetime.now(UTC))
            while len(receiver.requests) <= n:
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
    finally:
        stop.request()
        worker.join(30)
        next(receiver_gen, None)

    # getDeleted and the probes share the composite; reconciliation once a day (a Bulk job per
    # object with deletes, about 20 calls) comes on top.
    per_day = per_pass * DAY_PASSES_AT_60S + 20
    before_per_day = CALLS_PER_QUIET_PASS_BEFORE * DAY_PASSES_AT_60S + DESCRIBES_PER_DAY_BEFORE + 20
    write_report(
        "sync_budget",
        "Sync API budget and webhook freshness (demo org, worker idle on a 300 s interval)",
        [
            {"figure": "API calls per quiet pass", "before": CALLS_PER_QUIET_PASS_BEFORE, "after": per_pass},
            {"figure": "API calls per day at 60 s", "before": before_per_day, "after": per_day},
            {"figure": "webhook latency p50 (s)", "before": 46.0, "after": statistics.median(latencies)},
            {"figure": "webhook latency p95 (s)", "before": None, "after": p95(latencies)},
        ],
    )
    assert per_pass <= 2
    assert per_day <= 3000
