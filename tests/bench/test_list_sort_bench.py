"""Sorted list benchmark: a page of `GET /v1/reps?sort=name` (and `-name`) at the start and in
the middle of 100,000 users, with the `sf_user (name, id)` index and, in the same run, without
it. Keyset paging over an index costs the same wherever the page is; without the index every
page sorts the table. `make bench`; results in bench-results/list_sort.json."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from salescoach_core import reps
from salescoach_core.keyset import Keyset
from salescoach_core.models import SfUser
from tests.bench.report import write_report

pytestmark = pytest.mark.bench
USERS = 100_000
PAGE = 100
RUNS = 7


@pytest.fixture(scope="module")
def users(committed_url: str) -> Iterator[Engine]:
    engine = create_engine(committed_url)
    with engine.begin() as conn:
        # Every user but the first hundred has a manager (a rep); one in fifty has no name.
        conn.execute(
            text(
                """
                INSERT INTO sf_user (id, name, is_active, manager_id, custom_fields)
                SELECT lpad(g::text, 18, '0'),
                       CASE WHEN g % 50 <> 0 THEN 'Rep ' || md5(g::text) END, true,
                       CASE WHEN g > 100 THEN lpad((g % 100 + 1)::text, 18, '0') END, '{}'::jsonb
                FROM generate_series(1, :n) g
                """
            ),
            {"n": USERS},
        )
        conn.execute(text("ANALYZE sf_user"))
    yield engine
    engine.dispose()


def _page_ms(session: Session, *, descending: bool, after: tuple[Any, Any] | None) -> float:
    keyset = Keyset(
        column=SfUser.name, id_column=SfUser.id, limit=PAGE + 1, descending=descending, after=after
    )
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        rows = reps.list_reps(session, keyset=keyset, visible=lambda column: column.is_not(None))
        timings.append(time.perf_counter() - start)
        assert len(rows) == PAGE + 1
    return statistics.median(timings) * 1000


def _middle(session: Session, *, descending: bool) -> tuple[Any, Any]:
    order = "name DESC NULLS FIRST, id DESC" if descending else "name ASC NULLS LAST, id ASC"
    row = session.execute(
        text(f"SELECT name, id FROM sf_user ORDER BY {order} OFFSET :n LIMIT 1"), {"n": USERS // 2}
    )
    name, row_id = row.one()
    return name, row_id


def _measure(session: Session, index: str) -> list[dict[str, Any]]:
    rows = []
    for descending in (False, True):
        first = _page_ms(session, descending=descending, after=None)
        middle = _page_ms(session, descending=descending, after=_middle(session, descending=descending))
        rows.append(
            {
                "sort": "-name" if descending else "name",
                "index": index,
                "first page ms": first,
                "middle page ms": middle,
                "middle / first": middle / first,
            }
        )
    return rows


def test_sorted_rep_pages_cost_the_same_anywhere_with_the_name_index(users: Engine) -> None:
    with Session(users) as session:
        with_index = _measure(session, "sf_user (name, id)")
        # Dropped in this transaction only, and rolled back: the same data, without the index.
        session.execute(text("DROP INDEX ix_sf_user_name_id"))
        without = _measure(session, "none")
        session.rollback()
    for row, before in zip(with_index, without, strict=True):
        row["without index / with"] = before["middle page ms"] / row["middle page ms"]
    write_report(
        "list_sort", f"GET /v1/reps?sort=name over {USERS:,} users, {PAGE} a page", with_index + without
    )
    for row in with_index:
        # Keyset paging: a page deep in the list is not much dearer than the first one.
        assert row["middle / first"] < 5, row
        assert row["without index / with"] > 5, row
