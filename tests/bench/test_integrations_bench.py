"""Integrations benchmark: webhook deliveries per second from the queue to a local receiver, and
export throughput (MB/s) for CSV and Parquet. `make bench`; results in bench-results/integrations.json."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, text

from salescoach_core.database import session_scope
from salescoach_core.integrations import events, exports, webhooks
from salescoach_core.integrations.delivery import DeliveryConfig, deliver_due
from salescoach_core.settings import Settings
from tests.bench.report import write_report
from tests.integrations.conftest import (  # noqa: F401
    Receiver,
    committed_engine,
    on_premise,
    receiver,
)

pytestmark = pytest.mark.bench
EVENTS = 5_000
ACTION_ITEMS = 200_000
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _seed_action_items(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO coaching_session (id, rep_id, mode, status, scheduled_at, duration_minutes,
                                              what_if_scenarios, created_at, updated_at)
                VALUES ('00000000-0000-0000-0000-000000000001', '005000000000001AAA', 'developmental',
                        'held', :now, 30, '[]', :now, :now)
                """
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                """
                INSERT INTO action_item (id, session_id, rep_id, owner, description, due_date, status,
                                         created_at, updated_at, external_id, version, writeback_status)
                SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000001', '005000000000001AAA',
                       'coach', 'call the champion before the QBR, n=' || n, DATE '2026-12-01', 'open',
                       :now + make_interval(secs => n), :now, 'ai-' || n, 1, 'not_mirrored'
                FROM generate_series(1, :count) AS n
                """
            ),
            {"now": NOW, "count": ACTION_ITEMS},
        )


def test_integrations_throughput(
    committed_engine: Engine,  # noqa: F811
    receiver: Receiver,  # noqa: F811
    on_premise: Settings,  # noqa: F811
) -> None:
    with session_scope(committed_engine) as session:
        webhooks.create_endpoint(
            session,
            url=receiver.url,
            event_types=[],
            secret=None,
            description=None,
            allow_private_targets=on_premise.webhook_allow_private_targets,
            now=NOW,
        )
        for n in range(EVENTS):
            events.emit(session, "goal.created", {"n": n}, now=NOW)
    started = time.perf_counter()
    config = on_premise.model_copy(update={"webhook_batch_size": 200, "webhook_concurrency": 16})
    totals = deliver_due(committed_engine, DeliveryConfig.from_settings(config))
    delivery_seconds = time.perf_counter() - started
    assert totals.succeeded == EVENTS

    _seed_action_items(committed_engine)

    @contextmanager
    def connect() -> Iterator[Connection]:
        with committed_engine.connect() as conn, conn.begin():
            yield conn

    rows = [
        {
            "measure": "webhook deliveries (queue -> local receiver)",
            "count": EVENTS,
            "seconds": round(delivery_seconds, 3),
            "per_second": round(EVENTS / delivery_seconds, 1),
        }
    ]
    spec = exports.TABLE_EXPORTS["action-items"]
    for fmt in ("csv", "parquet"):
        started = time.perf_counter()
        size = sum(
            len(chunk)
            for chunk in exports.encode(
                fmt, spec.columns, exports.table_batches(connect, spec, start=None, end=None)
            )
        )
        seconds = time.perf_counter() - started
        rows.append(
            {
                "measure": f"export action-items {fmt}",
                "count": ACTION_ITEMS,
                "seconds": round(seconds, 3),
                "per_second": round(ACTION_ITEMS / seconds, 1),
                "MB": round(size / 1e6, 2),
                "MB_per_second": round(size / 1e6 / seconds, 2),
            }
        )
    write_report("integrations", "Webhook deliveries and exports", rows)
