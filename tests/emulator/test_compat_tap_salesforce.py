"""singer-io's tap-salesforce, installed from PyPI into its own env, against the emulator.

Discovery in REST and BULK mode, then syncs of Opportunity, Task and Event; every record the
tap emits is compared with the org's CSV files (the emulator's source data), and a second,
incremental sync from the tap's own state must emit exactly the rows at or after its bookmark.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from salescoach_emulator import EmulatorHandle
from tests.emulator.clientenv import client_venv, run_client
from tests.plugins.emulator import client_session

pytestmark = pytest.mark.compat

TAP_VERSION = "2.8.1"
STREAMS = ("Opportunity", "Task", "Event")
START = "2000-01-01T00:00:00Z"


@pytest.fixture(scope="session")
def tap_venv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return client_venv(request.config, tmp_path_factory, "tap-salesforce", TAP_VERSION)


def refresh_token(emulator: EmulatorHandle) -> str:
    """A refresh token from the web-server flow (tap-salesforce logs in with one)."""
    session = client_session(emulator)
    redirect_uri = "http://localhost/cb"
    redirect = session.get(
        f"{emulator.login_url}/services/oauth2/authorize",
        params={"response_type": "code", "client_id": emulator.client_id, "redirect_uri": redirect_uri},
        allow_redirects=False,
    )
    code = parse_qs(urlparse(redirect.headers["location"]).query)["code"][0]
    token = session.post(
        f"{emulator.login_url}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "redirect_uri": redirect_uri,
        },
    )
    token.raise_for_status()
    return str(token.json()["refresh_token"])


@dataclass
class Tap:
    venv: Path
    emulator: EmulatorHandle
    workdir: Path

    def config(self, api_type: str) -> Path:
        path = self.workdir / f"config-{api_type}.json"
        path.write_text(
            json.dumps(
                {
                    "refresh_token": refresh_token(self.emulator),
                    "client_id": self.emulator.client_id,
                    "client_secret": self.emulator.client_secret,
                    "start_date": START,
                    "api_type": api_type,
                    "select_fields_by_default": True,
                }
            ),
            encoding="utf-8",
        )
        return path

    def run(self, *args: str) -> list[dict[str, Any]]:
        done = run_client(self.venv, self.emulator, "tap-salesforce", *args)
        assert done.returncode == 0, done.stderr[-3000:]
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def discover(self, api_type: str) -> dict[str, Any]:
        done = run_client(
            self.venv, self.emulator, "tap-salesforce", "--config", str(self.config(api_type)), "--discover"
        )
        assert done.returncode == 0, done.stderr[-3000:]
        catalog: dict[str, Any] = json.loads(done.stdout)
        return catalog

    def sync(
        self, api_type: str, catalog: dict[str, Any], state: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        catalog_path = self.workdir / "catalog.json"
        catalog_path.write_text(json.dumps(select(catalog, STREAMS)), encoding="utf-8")
        args = ["--config", str(self.config(api_type)), "--properties", str(catalog_path)]
        if state is not None:
            state_path = self.workdir / "state.json"
            state_path.write_text(json.dumps(state), encoding="utf-8")
            args += ["--state", str(state_path)]
        return self.run(*args)


@pytest.fixture
def tap(tap_venv: Path, emulator: EmulatorHandle, tmp_path: Path) -> Tap:
    return Tap(tap_venv, emulator, tmp_path)


def select(catalog: dict[str, Any], streams: tuple[str, ...]) -> dict[str, Any]:
    """The catalog with ``streams`` selected for incremental sync on SystemModstamp."""
    chosen = []
    for entry in catalog["streams"]:
        if entry["stream"] not in streams:
            continue
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"].update(
                    selected=True,
                    **{"replication-method": "INCREMENTAL", "replication-key": "SystemModstamp"},
                )
        chosen.append(entry)
    return {"streams": chosen}


def csv_rows(org: Path, name: str) -> Iterator[dict[str, str]]:
    with (org / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expected_value(raw: str, schema: dict[str, Any]) -> object:
    """A CSV cell as the tap's schema types it (the CSV is the Salesforce export format)."""
    if raw == "":
        return None
    if "anyOf" in schema:  # date and datetime fields
        return _instant(raw)
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if "boolean" in types:
        return raw == "true"
    if "integer" in types:
        return int(float(raw))
    if "number" in types:
        return float(raw)
    return raw


def emitted_value(value: object, schema: dict[str, Any]) -> object:
    if value is not None and "anyOf" in schema:
        return _instant(str(value))
    return value


def records_by_stream(messages: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in STREAMS}
    for message in messages:
        if message["type"] == "RECORD":
            found[message["stream"]][message["record"]["Id"]] = message["record"]
    return found


def compare_with_org(
    org: Path,
    catalog: dict[str, Any],
    found: dict[str, dict[str, dict[str, Any]]],
    since: dict[str, datetime],
) -> int:
    """Assert the tap emitted exactly the org's rows modified at or after ``since``, field for
    field; returns the number of rows compared."""
    schemas = {e["stream"]: e["schema"]["properties"] for e in catalog["streams"]}
    compared = 0
    for stream in STREAMS:
        rows = {r["Id"]: r for r in csv_rows(org, stream) if _instant(r["SystemModstamp"]) >= since[stream]}
        assert set(found[stream]) == set(rows), stream
        for record_id, row in rows.items():
            record = found[stream][record_id]
            for column, raw in row.items():
                schema = schemas[stream][column]
                assert emitted_value(record[column], schema) == expected_value(raw, schema), (
                    stream,
                    record_id,
                    column,
                )
            compared += 1
    return compared


def test_discovery_in_rest_and_bulk_mode_describes_every_object(tap: Tap, emulator: EmulatorHandle) -> None:
    for api_type in ("REST", "BULK"):
        catalog = tap.discover(api_type)
        streams = {e["stream"]: e for e in catalog["streams"]}
        assert set(STREAMS) <= set(streams), api_type
        for name in STREAMS:
            fields = {
                f["name"]
                for f in client_session(emulator)
                .get(
                    f"{emulator.instance_url}/services/data/v61.0/sobjects/{name}/describe",
                    headers={"Authorization": f"Bearer {emulator.access_token()}"},
                )
                .json()["fields"]
            }
            assert set(streams[name]["schema"]["properties"]) == fields
            root = next(m["metadata"] for m in streams[name]["metadata"] if m["breadcrumb"] == [])
            assert root["valid-replication-keys"] == ["SystemModstamp"]
            assert root["table-key-properties"] == ["Id"]


@pytest.mark.parametrize("api_type", ["REST", "BULK"])
def test_sync_emits_every_org_row_then_resumes_from_its_bookmark(
    tap: Tap, emulator_org: Path, api_type: str
) -> None:
    catalog = tap.discover(api_type)
    results_before = tap.emulator.stats()["handlers"].get("bulk1_result", 0)
    messages = tap.sync(api_type, catalog)
    compared = compare_with_org(
        emulator_org, catalog, records_by_stream(messages), {s: _instant(START) for s in STREAMS}
    )
    assert compared == sum(len(list(csv_rows(emulator_org, s))) for s in STREAMS)
    state = next(m["value"] for m in reversed(messages) if m["type"] == "STATE")
    bookmarks = {s: state["bookmarks"][s]["SystemModstamp"] for s in STREAMS}
    # singer writes six fractional digits; the next sync sends them back in SOQL
    assert all(len(b.rpartition(".")[2]) == len("000000Z") for b in bookmarks.values())
    again = tap.sync(api_type, catalog, state)
    # BULK mode reads every stream through Bulk API 1.0 result files, REST mode never does
    bulk_results = tap.emulator.stats()["handlers"].get("bulk1_result", 0) - results_before
    assert bulk_results == (2 * len(STREAMS) if api_type == "BULK" else 0)
    compare_with_org(
        emulator_org, catalog, records_by_stream(again), {s: _instant(b) for s, b in bookmarks.items()}
    )
