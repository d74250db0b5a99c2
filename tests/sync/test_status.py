"""`GET /v1/sync/status` and `salescoach sync status`: what the last run of each object did."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_core.database import Database
from salescoach_core.models import SyncApiUsage, SyncState
from salescoach_sync.worker import run_worker
from tests.plugins.sync import FIELDS, SyncEnv


def test_status_lists_each_synced_object_with_its_last_run(client: TestClient, db_session: Session) -> None:
    finished = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    db_session.add(
        SyncState(
            object_name="Task",
            high_water_mark=finished,
            last_full_sync_at=finished,
            last_mode="incremental",
            last_status="stopped",
            last_started_at=finished,
            last_finished_at=finished,
            rows_inserted=3,
            rows_updated=2,
            rows_deleted=1,
            api_calls=9,
            last_error="API quota guard: ...",
        )
    )
    db_session.flush()

    response = client.get("/v1/sync/status")

    assert response.status_code == 200
    (task,) = [item for item in response.json()["items"] if item["object_name"] == "Task"]
    assert task["last_mode"] == "incremental"
    assert task["last_status"] == "stopped"
    assert (task["rows_inserted"], task["rows_updated"], task["rows_deleted"]) == (3, 2, 1)
    assert task["api_calls"] == 9
    assert task["high_water_mark"].startswith("2026-11-23T12:00:00")
    assert task["last_error"].startswith("API quota guard")


def test_status_needs_credentials(client: TestClient) -> None:
    response = client.get("/v1/sync/status", headers={"Authorization": ""})

    assert response.status_code == 401


def test_cli_status_reports_every_object_after_a_run(sync_env: SyncEnv) -> None:
    sync_env.run()

    process = sync_env.spawn("status", "--json")
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    rows = {row["object_name"]: row for row in json.loads(stdout)["items"]}
    assert set(rows) == set(FIELDS)
    assert all(row["last_status"] == "ok" and row["last_mode"] == "full" for row in rows.values())
    assert rows["Task"]["rows_inserted"] == sync_env.table_count("sf_task")


def test_cli_status_table_keeps_whole_values_when_written_to_a_pipe(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_env.run()
    monkeypatch.delenv("COLUMNS", raising=False)

    process = sync_env.spawn("status")  # stdout is a pipe, not a terminal
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    rows = {line.split("│")[1].strip(): line for line in stdout.splitlines() if line.startswith("│")}
    assert set(rows) == set(FIELDS)  # every object named in full, one line each
    task = [cell.strip() for cell in rows["Task"].split("│")[1:-1]]
    assert task[1:3] == ["full", "ok"]
    assert task[5] == f"{sync_env.table_count('sf_task'):,}"  # inserted


def test_status_and_metrics_show_todays_calls_budget_and_stretched_pause(
    client: TestClient, db_session: Session
) -> None:
    today = datetime.now(UTC).date()
    db_session.add(
        SyncApiUsage(
            day=today, calls=700, passes=650, budget=1000, interval_seconds=151.5, projected_calls=990
        )
    )
    db_session.flush()

    usage = client.get("/v1/sync/status").json()["api_usage"]

    assert usage["day"] == today.isoformat()
    assert (usage["calls_today"], usage["passes_today"]) == (700, 650)
    assert (usage["daily_budget"], usage["projected_calls"]) == (1000, 990)
    assert usage["interval_seconds"] == 151.5
    assert usage["configured_interval_seconds"] == 60  # the default
    assert usage["stretched"] is True


def test_cli_status_and_metrics_say_how_many_calls_the_worker_made_today(sync_env: SyncEnv) -> None:
    run_worker(
        sync_env.settings.model_copy(update={"sf_daily_call_budget": 50}), sync_env.engine, max_passes=1
    )

    process = sync_env.spawn("status", "--json")
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    usage = json.loads(stdout)["api_usage"]
    assert usage["passes"] == 1
    assert usage["calls"] > 0
    assert usage["budget"] == 50
    process = sync_env.spawn("status")
    stdout, _ = process.communicate(timeout=60)
    assert f"API calls today: {usage['calls']:,} in 1 passes of a budget of 50" in stdout
    app = create_app(sync_env.settings, Database.from_engine(sync_env.settings, sync_env.engine))
    with TestClient(app) as api:
        metrics = api.get("/metrics").text
    assert f"salescoach_sync_api_calls_today {float(usage['calls'])}" in metrics
    assert f"salescoach_sync_api_calls_projected {float(usage['projected_calls'])}" in metrics
    assert "salescoach_sync_api_call_budget 50.0" in metrics
    assert f"salescoach_sync_interval_seconds {usage['interval_seconds']}" in metrics
