"""Webhook list benchmark: a middle page of `GET /v1/webhooks` (10,000 endpoints) and of
`GET /v1/webhooks/{id}/deliveries` (100,000 deliveries across 50 endpoints, 2,000 each; and one
endpoint whose log holds a pass of 1,500 events committed at one instant, as when a period's
goals close together), with the `(created_at, id)` indexes and, in the same run, without them.
The page's plan must read the keyset order `(created_at, id)` from an index: no Sort node, and
about a page of rows. `make bench`; results in bench-results/webhook_lists.json."""

from __future__ import annotations

import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

from salescoach_core.integrations import webhooks
from salescoach_core.keyset import Keyset
from salescoach_core.models.integrations import WebhookDelivery, WebhookEndpoint
from tests.bench.report import write_report

pytestmark = pytest.mark.bench
ENDPOINTS = 10_000
LOGGED = 50
EVENTS = 2_000
TIED = 1_500
PAGE = 100
RUNS = 9
TIED_ENDPOINT = uuid.UUID("00000000-0000-4000-8000-0000000000ee")
INDEXES = ("ix_webhook_endpoint_created_at_id", "ix_webhook_delivery_endpoint_id_created_at_id")


@pytest.fixture(scope="module")
def filled(committed_url: str) -> Iterator[Engine]:
    engine = create_engine(committed_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO webhook_endpoint (id, url, event_types, secret, created_at)
                SELECT gen_random_uuid(), 'https://hooks.example.com/' || g, '[]', 'whsec_bench',
                       timestamptz '2025-01-01' + g * interval '37 minutes'
                FROM generate_series(1, :n) g
                """
            ),
            {"n": ENDPOINTS},
        )
        # Each event goes to the 50 oldest endpoints; four events commit together (one instant).
        conn.execute(
            text(
                """
                INSERT INTO event (id, type, occurred_at, payload)
                SELECT 'evt_s' || lpad(g::text, 20, '0'), 'goal.created',
                       timestamptz '2026-01-01' + (g / 4) * interval '90 seconds', '{}'
                FROM generate_series(1, :n) g
                """
            ),
            {"n": EVENTS},
        )
        conn.execute(
            text(
                """
                INSERT INTO webhook_delivery
                    (id, endpoint_id, event_id, status, attempts, created_at, next_attempt_at)
                SELECT gen_random_uuid(), w.id, e.id, 'delivered', 1, e.occurred_at, e.occurred_at
                FROM (SELECT id FROM webhook_endpoint ORDER BY created_at LIMIT :logged) w
                CROSS JOIN event e
                """
            ),
            {"logged": LOGGED},
        )
        # One more endpoint: 1,500 of its 2,000 events committed by one pass, at one instant.
        tied = {"id": TIED_ENDPOINT, "tied": TIED, "n": EVENTS}
        for statement in (
            """
            INSERT INTO webhook_endpoint (id, url, event_types, secret, created_at)
            VALUES (:id, 'https://hooks.example.com/tied', '[]', 'whsec_bench', '2026-01-01')
            """,
            """
            INSERT INTO event (id, type, occurred_at, payload)
            SELECT 'evt_t' || lpad(g::text, 20, '0'), 'goal.status_changed',
                   CASE WHEN g <= :tied THEN timestamptz '2026-02-01'
                        ELSE timestamptz '2026-01-01' + g * interval '90 seconds' END, '{}'
            FROM generate_series(1, :n) g
            """,
            """
            INSERT INTO webhook_delivery
                (id, endpoint_id, event_id, status, attempts, created_at, next_attempt_at)
            SELECT gen_random_uuid(), :id, e.id, 'delivered', 1, e.occurred_at, e.occurred_at
            FROM event e WHERE e.id LIKE 'evt_t%'
            """,
        ):
            conn.execute(text(statement), tied)
        conn.execute(text("ANALYZE webhook_endpoint"))
        conn.execute(text("ANALYZE webhook_delivery"))
    yield engine
    engine.dispose()


def _middle(session: Session, sql: str, **params: Any) -> tuple[Any, Any]:
    created_at, row_id = session.execute(text(sql), params).one()
    return created_at, row_id


def _pages(session: Session) -> list[tuple[str, Callable[[], Sequence[Any]]]]:
    """Each page measured: its name, and the call that reads it as the API does."""
    pages: list[tuple[str, Callable[[], Sequence[Any]]]] = []
    for descending in (False, True):
        order = "DESC" if descending else "ASC"
        sort = f"{'-' if descending else ''}created_at"
        after = _middle(
            session,
            f"SELECT created_at, id FROM webhook_endpoint ORDER BY created_at {order}, id {order} "
            "OFFSET :n LIMIT 1",
            n=ENDPOINTS // 2,
        )
        endpoint_keyset = Keyset(
            column=WebhookEndpoint.created_at,
            id_column=WebhookEndpoint.id,
            limit=PAGE + 1,
            descending=descending,
            after=after,
        )
        pages.append(
            (
                f"webhooks sort={sort}",
                lambda keyset=endpoint_keyset: webhooks.list_endpoints(session, keyset=keyset),  # type: ignore[misc]
            )
        )
    logged = session.execute(text("SELECT endpoint_id FROM webhook_delivery LIMIT 1")).scalar_one()
    for label, endpoint_id in (("2,000 spread", logged), ("1,500 tied", TIED_ENDPOINT)):
        endpoint = session.get_one(WebhookEndpoint, endpoint_id)
        for descending in (True, False):
            order = "DESC" if descending else "ASC"
            sort = f"{'-' if descending else ''}created_at"
            after = _middle(
                session,
                "SELECT created_at, id FROM webhook_delivery WHERE endpoint_id = :e "
                f"ORDER BY created_at {order}, id {order} OFFSET :n LIMIT 1",
                e=endpoint_id,
                n=EVENTS // 2,
            )
            delivery_keyset = Keyset(
                column=WebhookDelivery.created_at,
                id_column=WebhookDelivery.id,
                limit=PAGE + 1,
                descending=descending,
                after=after,
            )
            pages.append(
                (
                    f"deliveries ({label}) sort={sort}",
                    lambda endpoint=endpoint, keyset=delivery_keyset: webhooks.list_deliveries(  # type: ignore[misc]
                        session, endpoint=endpoint, keyset=keyset
                    ),
                )
            )
    return pages


def _measure(session: Session, indexes: str) -> list[dict[str, Any]]:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    rows = []
    engine = session.get_bind()
    for name, read in _pages(session):
        event.listen(engine, "before_cursor_execute", capture)
        try:
            assert len(read()) == PAGE + 1, name
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        (statement, parameters), *more = statements
        assert not more, name
        statements.clear()
        plan = "\n".join(
            line
            for (line,) in session.connection().exec_driver_sql(
                f"EXPLAIN (ANALYZE, COSTS OFF) {statement}", parameters
            )
        )
        timings = []
        for _ in range(RUNS):
            start = time.perf_counter()
            read()
            timings.append(time.perf_counter() - start)
        # Rows the scans read: those they passed on (a bitmap heap scan's, not again its index
        # scan's) and those their filter removed.
        passed = re.findall(r"(Bitmap Index Scan|Scan)[^\n]*rows=(\d+)", plan)
        removed = re.findall(r"Rows Removed by Filter: (\d+)", plan)
        rows_read = sum(int(n) for kind, n in passed if kind == "Scan") + sum(int(n) for n in removed)
        rows.append(
            {
                "page": name,
                "indexes": indexes,
                "page ms": statistics.median(timings) * 1000,
                "execution ms": float(re.findall(r"Execution Time: ([\d.]+)", plan)[0]),
                "rows read": rows_read,
                "sort node": "Sort" in plan,
            }
        )
    return rows


def test_webhook_list_pages_read_the_keyset_order_from_an_index(filled: Engine) -> None:
    with Session(filled) as session:
        with_indexes = _measure(session, "(created_at, id)")
        # Dropped in this transaction only, and rolled back: the same data, without them.
        for index in INDEXES:
            session.execute(text(f"DROP INDEX IF EXISTS {index}"))
        without = _measure(session, "before")
        session.rollback()
    write_report(
        "webhook_lists",
        f"Middle pages of {PAGE}: {ENDPOINTS:,} webhooks; deliveries of {LOGGED + 1} endpoints",
        without + with_indexes,
    )
    for row in with_indexes:
        assert not row["sort node"], row
        # The page and the one row past it: a range of the index, filtered by nothing.
        assert row["rows read"] == PAGE + 1, row
