"""`GET /v1/sync/status` and `salescoach sync status`: what the last run of each object did."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from salescoach_core.models import SyncState
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
    rows = {row["object_name"]: row for row in json.loads(stdout)}
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
