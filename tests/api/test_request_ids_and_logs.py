"""Request ids travel in and out, and every access log line is JSON carrying one."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from salescoach_api.app import create_app
from salescoach_cli.run import _pointed_at
from salescoach_core.database import Database
from salescoach_core.logging import configure_logging
from salescoach_core.settings import Settings
from salescoach_emulator import EmulatorHandle


def test_caller_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "checkout-42.a"})
    assert response.headers["X-Request-ID"] == "checkout-42.a"


def test_missing_or_unsafe_request_id_is_replaced_with_a_fresh_one(client: TestClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"}).headers["X-Request-ID"]
    assert len(first) == 32
    assert second not in {first, "bad id\nwith newline"}


def test_problem_body_quotes_the_request_id(client: TestClient) -> None:
    response = client.get("/missing", headers={"X-Request-ID": "trace-7"})
    assert response.json()["request_id"] == "trace-7"


def test_access_log_is_one_json_line_with_request_id(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    client.get("/healthz", headers={"X-Request-ID": "log-check-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "http_request"]
    assert access, "no access log line"
    assert access[-1]["request_id"] == "log-check-1"
    assert access[-1]["status"] == 200
    assert access[-1]["path"] == "/healthz"
    assert isinstance(access[-1]["duration_ms"], float)


def test_api_started_says_emulator_when_salescoach_run_points_it_at_the_emulator(
    settings: Settings, database: Database, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    # `salescoach run` hands the API the emulator's login URL and its (generated) client id.
    pointed = _pointed_at(settings, emulator)
    assert pointed.sf_client_id, "the runner sets a client id: the mode must not hinge on it"
    configure_logging("INFO", "json")
    with TestClient(create_app(pointed, database)):
        pass
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    started = [line for line in lines if line.get("event") == "api_started"]
    assert [line["salesforce_mode"] for line in started] == ["emulator"]
