"""Bulk API 2.0 query jobs through simple-salesforce's bulk2 client, and the raw protocol."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from salescoach_emulator import EmulatorHandle
from tests.plugins.emulator import client_session


def _rows(chunks: list[str]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for chunk in chunks:
        rows.extend(csv.DictReader(io.StringIO(chunk)))
    return rows


def test_bulk2_query_pages_match_rest_query(sf: Salesforce) -> None:
    soql = (
        "SELECT Id, Subject, IsClosed, ActivityDate, CompletedDateTime, CallDurationInSeconds,"
        " Owner.Name FROM Task"
    )
    chunks = list(sf.bulk2.Task.query(soql, max_records=1500, wait=0))
    assert len(chunks) > 2  # several pages, each with its own header row
    assert all(c.startswith("Id,Subject,IsClosed,ActivityDate,") for c in chunks)
    rows = _rows(chunks)
    rest = {r["Id"]: r for r in sf.query_all(soql)["records"]}
    assert len(rows) == len(rest)
    assert {r["Id"] for r in rows} == set(rest)
    sample = next(r for r in rows if r["CompletedDateTime"])
    expected = rest[sample["Id"]]
    assert sample["IsClosed"] == ("true" if expected["IsClosed"] else "false")
    assert sample["CompletedDateTime"] == expected["CompletedDateTime"].replace("+0000", "Z")
    assert sample["Owner.Name"] == expected["Owner"]["Name"]
    assert any(r["CallDurationInSeconds"] == "" for r in rows)  # null is an empty field


def test_bulk2_query_all_includes_deleted_rows(sf: Salesforce) -> None:
    soql = "SELECT Id FROM Task WHERE IsDeleted = true"
    assert _rows(list(sf.bulk2.Task.query(soql, wait=0))) == []
    deleted = _rows(list(sf.bulk2.Task.query_all(soql, wait=0)))
    assert len(deleted) == sf.query(soql.replace("Id", "COUNT()", 1), include_deleted=True)["totalSize"] > 0


def test_bulk2_download_writes_files(sf: Salesforce, tmp_path: Path) -> None:
    results = sf.bulk2.Opportunity.download(
        "SELECT Id, Amount FROM Opportunity", str(tmp_path), max_records=100, wait=0
    )
    total = sum(r["number_of_records"] for r in results)
    assert total == sf.query("SELECT COUNT() FROM Opportunity")["totalSize"]
    assert results[-1]["locator"] == ""
    lines = sum(len(Path(r["file"]).read_text().splitlines()) - 1 for r in results)
    assert lines == total


def test_job_lifecycle_headers_abort_and_delete(emulator: EmulatorHandle) -> None:
    session = client_session(emulator)
    session.headers["Authorization"] = f"Bearer {emulator.access_token()}"
    base = f"{emulator.instance_url}/services/data/v62.0/jobs/query"
    job = session.post(base, json={"operation": "query", "query": "SELECT Id FROM User"}).json()
    assert job["state"] == "UploadComplete"
    assert job["id"].startswith("750")
    assert (job["object"], job["contentType"], job["columnDelimiter"], job["lineEnding"]) == (
        "User",
        "CSV",
        "COMMA",
        "LF",
    )
    info = session.get(f"{base}/{job['id']}").json()
    for _ in range(100):
        if info["state"] == "JobComplete":
            break
        info = session.get(f"{base}/{job['id']}").json()
    assert info["state"] == "JobComplete"
    assert info["numberRecordsProcessed"] > 3
    first = session.get(f"{base}/{job['id']}/results", params={"maxRecords": 2})
    assert first.headers["Sforce-NumberOfRecords"] == "2"
    assert first.headers["Content-Type"].startswith("text/csv")
    locator = first.headers["Sforce-Locator"]
    assert locator != "null"
    rest = session.get(f"{base}/{job['id']}/results", params={"locator": locator})
    assert rest.headers["Sforce-Locator"] == "null"
    assert int(rest.headers["Sforce-NumberOfRecords"]) == info["numberRecordsProcessed"] - 2
    assert job["id"] in [j["id"] for j in session.get(base).json()["records"]]
    assert session.delete(f"{base}/{job['id']}").status_code == 204
    assert session.get(f"{base}/{job['id']}").status_code == 404

    finished = session.post(base, json={"operation": "query", "query": "SELECT Id FROM User"}).json()
    while session.get(f"{base}/{finished['id']}").json()["state"] != "JobComplete":
        pass
    refused = session.patch(f"{base}/{finished['id']}", json={"state": "Aborted"})
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_bad_bulk_query_is_refused_at_job_creation(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        list(sf.bulk2.Task.query("SELECT Nope FROM Task", wait=0))
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
