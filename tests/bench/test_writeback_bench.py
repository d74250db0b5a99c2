"""Write-back throughput: 10,000 action items sent to a private emulator as Tasks, then all of
them changed and sent again. Requests are counted by the emulator (`stats()`): the bound is
1.1 x ceil(10000 / 200) requests per run, and the org must end with exactly one Task per item.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from salescoach_core.database.migrations import upgrade
from salescoach_core.settings import Settings
from salescoach_emulator import EmulatorHandle
from salescoach_sync.writeback import WritebackReport, run_writeback
from tests.bench.report import write_report
from tests.plugins.database import create_database, drop_database
from tests.plugins.emulator import EmulatorFactory, salesforce_client

ITEMS = 10_000
BATCH = 200
REQUEST_BOUND = math.ceil(ITEMS / BATCH) * 11 // 10  # 1.1 x ceil(10000 / 200) = 55, in integers

_SEED_SQL = """
WITH reps AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM unnest(CAST(:reps AS text[])) AS id
), new_session AS (
    INSERT INTO coaching_session (id, rep_id, mode, status, scheduled_at, duration_minutes,
                                  what_if_scenarios, created_at, updated_at)
    SELECT gen_random_uuid(), ids[1], 'developmental', 'held', now(), 30, '[]', now(), now() FROM reps
    RETURNING id
), items AS (
    INSERT INTO action_item (id, session_id, rep_id, owner, description, due_date, status, created_at,
                             updated_at, external_id, version, writeback_status)
    SELECT g.u, s.id, r.ids[1 + g.n % cardinality(r.ids)], 'rep', 'Bench item ' || g.n,
           current_date + (g.n % 30), 'open', now(), now(), 'ai-' || g.u, 1, 'pending'
    FROM (SELECT n, gen_random_uuid() AS u FROM generate_series(1, :items) AS n) AS g,
         new_session AS s, reps AS r
    RETURNING id, external_id
)
INSERT INTO writeback_outbox (external_id, item_kind, item_id, version, attempts, available_at, created_at)
SELECT external_id, 'action_item', id, 1, 0, now(), now() FROM items
"""

_CHANGE_SQL = """
WITH changed AS (
    UPDATE action_item SET description = description || ' (changed)', version = version + 1,
                           writeback_status = 'pending'
    RETURNING id, external_id, version
)
INSERT INTO writeback_outbox (external_id, item_kind, item_id, version, attempts, available_at, created_at)
SELECT external_id, 'action_item', id, version, 0, now(), now() FROM changed
"""


@pytest.fixture
def bench_engine(server_engine: Engine) -> Iterator[Engine]:
    url = create_database(server_engine, "salescoach_bench_writeback")
    engine = create_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    drop_database(server_engine, url)


def _collection_requests(emulator: EmulatorHandle) -> int:
    stats = emulator.stats()
    return int(stats["handlers"].get("collections_upsert", 0))


def _measure(label: str, settings: Settings, engine: Engine, emulator: EmulatorHandle) -> dict[str, object]:
    before = _collection_requests(emulator)
    started = time.perf_counter()
    report: WritebackReport = run_writeback(settings, engine)
    seconds = time.perf_counter() - started
    requests = _collection_requests(emulator) - before
    assert (report.sent, report.failed) == (ITEMS, 0)
    assert requests <= REQUEST_BOUND, f"{requests} requests for {ITEMS} items (bound {REQUEST_BOUND})"
    return {
        "run": label,
        "items": ITEMS,
        "requests": requests,
        "request_bound": REQUEST_BOUND,
        "seconds": round(seconds, 2),
        "items_per_s": round(ITEMS / seconds, 1),
    }


@pytest.mark.bench
def test_writeback_of_10000_items(
    emulator_factory: EmulatorFactory, emulator_org: Path, bench_engine: Engine
) -> None:
    emulator = emulator_factory(emulator_org)
    sf = salesforce_client(emulator)
    reps = [r["Id"] for r in sf.query_all("SELECT Id FROM User WHERE IsActive = true")["records"]]
    settings = Settings(
        database_url=bench_engine.url.render_as_string(hide_password=False),
        sf_login_url=emulator.login_url,
        sf_client_id=emulator.client_id,
        sf_client_secret=emulator.client_secret,
        sf_ca_bundle=Path(emulator.ca_bundle),
    )
    with bench_engine.begin() as conn:
        conn.execute(text(_SEED_SQL), {"reps": reps, "items": ITEMS})

    rows = [_measure("create 10,000 Tasks", settings, bench_engine, emulator)]
    with bench_engine.begin() as conn:
        conn.execute(text(_CHANGE_SQL))
    rows.append(_measure("update the same 10,000", settings, bench_engine, emulator))

    count = sf.query("SELECT COUNT() FROM Task WHERE Salescoach_Id__c LIKE 'ai-%'")["totalSize"]
    assert count == ITEMS, f"{count} Tasks for {ITEMS} items"
    write_report("writeback", f"Write-back of {ITEMS:,} action items (batches of {BATCH})", rows)
