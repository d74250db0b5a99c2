"""Exports: the same rows as the API's lists, as CSV and as Parquet that pyarrow reads back."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from salescoach_core.coaching import action_items
from salescoach_core.models import CoachingGoal
from tests.integrations.conftest import NOW, scheduled_session
from tests.plugins.auth import Org


def _records(db_session: Session, org: Org) -> None:
    for rep, count in ((org.rep_a1, 3), (org.rep_b1, 2)):
        for n in range(count):
            row = scheduled_session(db_session, rep, NOW + timedelta(days=n))
            action_items.create_action_item(
                db_session,
                row=row,
                owner="coach",
                description=f"item {n}, with a comma",
                due_date=date(2026, 12, 1),
                opportunity_id=None,
                now=NOW,
            )


def _api_count(client: TestClient, org: Org, what: str) -> int:
    return sum(
        len(client.get(f"/v1/reps/{rep.id}/{what}", params={"limit": 200}).json()["items"])
        for rep in (org.rep_a1, org.rep_a2, org.rep_a3, org.rep_b1)
    )


@pytest.mark.parametrize(("export", "listed"), [("sessions", "sessions"), ("action-items", "action-items")])
def test_csv_export_has_the_apis_rows(
    export_client: TestClient, db_session: Session, org: Org, export: str, listed: str
) -> None:
    _records(db_session, org)

    answer = export_client.get(f"/v1/exports/{export}", params={"format": "csv"})

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == _api_count(export_client, org, listed) == 5


def test_parquet_export_reads_back_with_pyarrow(
    export_client: TestClient, db_session: Session, org: Org
) -> None:
    _records(db_session, org)

    answer = export_client.get("/v1/exports/action-items", params={"format": "parquet"})

    table = pq.read_table(io.BytesIO(answer.content))
    assert table.num_rows == _api_count(export_client, org, "action-items")
    assert sorted(table.column("description").to_pylist())[0] == "item 0, with a comma"


def test_export_period_filters_the_records(export_client: TestClient, db_session: Session, org: Org) -> None:
    _records(db_session, org)
    today = NOW.date()  # the org's zone is UTC here
    month = f"{today.year:04d}-{today.month:02d}"

    one_day = export_client.get(
        "/v1/exports/sessions",
        params={"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()},
    )
    this_month = export_client.get("/v1/exports/sessions", params={"period": month})
    blank = export_client.get("/v1/exports/sessions", params={"period": "", "from": "", "to": ""})

    # Sessions are scheduled today, +1 and +2 days for one rep, today and +1 for another.
    assert len(list(csv.DictReader(io.StringIO(one_day.text)))) == 2
    in_month = sum(1 for n in (0, 1, 2, 0, 1) if (NOW + timedelta(days=n)).month == today.month)
    assert len(list(csv.DictReader(io.StringIO(this_month.text)))) == in_month
    # A blank period is no period: for records, no filter.
    assert len(list(csv.DictReader(io.StringIO(blank.text)))) == 5


def test_scorecards_export_has_a_row_per_rep(export_client: TestClient, org: Org) -> None:
    answer = export_client.get(
        "/v1/exports/scorecards", params={"from": "2026-10-01", "to": "2026-11-01", "format": "parquet"}
    )

    assert answer.status_code == 200, answer.text
    table = pq.read_table(io.BytesIO(answer.content))
    listed = export_client.get("/v1/reps", params={"limit": 200}).json()["items"]
    assert sorted(table.column("rep_id").to_pylist()) == sorted(r["id"] for r in listed)


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn"]


def test_csv_text_cells_that_a_spreadsheet_would_run_are_neutralised(
    export_client: TestClient, db_session: Session, org: Org
) -> None:
    _records(db_session, org)
    row = scheduled_session(db_session, org.rep_a2)
    for text in FORMULAS:
        action_items.create_action_item(
            db_session, row=row, owner="coach", description=text, due_date=None, opportunity_id=None, now=NOW
        )
    goal = export_client.post(
        f"/v1/reps/{org.rep_a2.id}/goals",
        json={
            "kind": "skill",
            "skill": "-5 objections",
            "measurement_plan": "rated",
            "period": "2026-11",
            "coach_id": org.manager_a.id,
        },
    )
    stored = db_session.get(CoachingGoal, goal.json()["id"])
    assert stored is not None
    stored.baseline = Decimal("-5")
    db_session.flush()

    items = list(csv.DictReader(io.StringIO(export_client.get("/v1/exports/action-items").text)))
    goals = list(csv.DictReader(io.StringIO(export_client.get("/v1/exports/goals").text)))

    # OWASP: a text cell starting with = + - @ tab or CR gets a leading single quote.
    described = sorted(i["description"] for i in items if i["rep_id"] == org.rep_a2.id)
    assert described == sorted("'" + text for text in FORMULAS)
    assert (
        sorted(i["description"] for i in items if i["rep_id"] != org.rep_a2.id)[0] == "item 0, with a comma"
    )
    assert goals[0]["skill"] == "'-5 objections"
    # A numeric column's negative number is data, not a formula: left as it is.
    assert Decimal(goals[0]["baseline"]) == Decimal("-5")
    # Parquet cells are typed, never evaluated: unchanged.
    parquet = pq.read_table(io.BytesIO(export_client.get("/v1/exports/action-items?format=parquet").content))
    assert set(FORMULAS) <= set(parquet.column("description").to_pylist())
