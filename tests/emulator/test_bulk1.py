"""Bulk API 1.0 queries through simple-salesforce's Bulk 1.0 handler (JSON jobs) and the raw XML /
CSV protocol, every row compared with the org's CSV files."""

from __future__ import annotations

import csv
import io
import math
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest

from salescoach_emulator import EmulatorHandle
from tests.plugins.emulator import client_session, salesforce_client

NS = {"a": "http://www.force.com/2009/06/asyncapi/dataload"}
FIELDS = [
    "Id",
    "Subject",
    "Status",
    "IsClosed",
    "ActivityDate",
    "CompletedDateTime",
    "CallDurationInSeconds",
    "IsDeleted",
    "IsArchived",
    "SystemModstamp",
]
SOQL = f"SELECT {', '.join(FIELDS)} FROM Task"
TYPES = {
    "IsClosed": "boolean",
    "IsDeleted": "boolean",
    "IsArchived": "boolean",
    "ActivityDate": "date",
    "CompletedDateTime": "datetime",
    "SystemModstamp": "datetime",
    "CallDurationInSeconds": "int",
}


def org_rows(org: Path, name: str = "Task") -> dict[str, dict[str, str]]:
    with (org / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return {row["Id"]: row for row in csv.DictReader(handle)}


def millis(text: str) -> int:
    """Bulk 1.0 JSON's date form: milliseconds since the epoch (dates from midnight UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)


def json_value(raw: str, kind: str | None) -> object:
    if raw == "":
        return None
    if kind == "boolean":
        return raw == "true"
    if kind in ("date", "datetime"):
        return millis(raw)
    if kind == "int":
        return int(raw)
    return raw


def assert_json_rows(records: Iterable[dict[str, Any]], expected: dict[str, dict[str, str]]) -> int:
    seen = {}
    for record in records:
        assert record["attributes"]["type"] == "Task"
        seen[record["Id"]] = record
    assert set(seen) == set(expected)
    for record_id, row in expected.items():
        for name in FIELDS:
            assert seen[record_id][name] == json_value(row[name], TYPES.get(name)), (record_id, name)
    return len(seen)


def test_query_all_lazy_returns_every_row_as_the_org_has_it(sf: Salesforce, emulator_org: Path) -> None:
    pages = sf.bulk.Task.query_all(SOQL, lazy_operation=True)
    records = [record for page in pages for record in page]
    compared = assert_json_rows(records, org_rows(emulator_org))
    assert compared > 5000


def test_query_leaves_out_deleted_and_archived_rows(sf: Salesforce, emulator_org: Path) -> None:
    live = {
        k: v
        for k, v in org_rows(emulator_org).items()
        if v["IsDeleted"] == "false" and v["IsArchived"] == "false"
    }
    assert assert_json_rows(sf.bulk.Task.query(SOQL), live) == len(live)


def test_parent_fields_nest_and_dates_are_epoch_millis(sf: Salesforce, emulator_org: Path) -> None:
    users = org_rows(emulator_org, "User")
    opportunities = org_rows(emulator_org, "Opportunity")
    records = sf.bulk.Opportunity.query("SELECT Id, CloseDate, Amount, Owner.Name FROM Opportunity")
    assert {r["Id"] for r in records} == {k for k, v in opportunities.items() if v["IsDeleted"] == "false"}
    for record in records:
        row = opportunities[record["Id"]]
        assert record["CloseDate"] == millis(row["CloseDate"])
        assert record["Amount"] == (float(row["Amount"]) if row["Amount"] else None)
        assert record["Owner"]["Name"] == users[row["OwnerId"]]["Name"]


def settled_batches(sf: Salesforce, job_id: str) -> list[dict[str, Any]]:
    """The job's batches once none is queued or running, polled as a client would."""
    deadline = time.monotonic() + 60
    while True:
        listing = sf.session.get(
            f"{sf.bulk_url}job/{job_id}/batch", headers={"X-SFDC-Session": sf.session_id}
        )
        batches: list[dict[str, Any]] = listing.json()["batchInfo"]
        if all(b["state"] not in ("Queued", "InProgress") for b in batches) or time.monotonic() > deadline:
            return batches
        time.sleep(0.2)


def test_pk_chunking_runs_one_batch_per_id_range(sf: Salesforce, emulator_org: Path) -> None:
    expected = org_rows(emulator_org)
    chunk = 1000
    handler = sf.bulk
    handler.headers["Sforce-Enable-PKChunking"] = f"chunkSize={chunk}"
    task = handler.Task
    job = task._create_job(operation="queryAll", use_serial=False)
    original = task._add_batch(job_id=job["id"], data=SOQL, operation="queryAll")
    task._close_job(job["id"])
    assert task._get_batch(job_id=job["id"], batch_id=original["id"])["state"] == "NotProcessed"
    batches = [b for b in settled_batches(sf, job["id"]) if b["id"] != original["id"]]
    assert len(batches) == math.ceil(len(expected) / chunk)
    ordered_ids = sorted(expected)
    records = []
    for index, batch in enumerate(batches):
        assert batch["state"] == "Completed"
        rows = [r for page in task._get_batch_results(job["id"], batch["id"], "queryAll") for r in page]
        # each chunk holds exactly its slice of the Id order
        assert sorted(r["Id"] for r in rows) == ordered_ids[index * chunk : (index + 1) * chunk]
        records += rows
    assert assert_json_rows(records, expected) == len(expected)


def test_failed_batch_reports_its_state_message(sf: Salesforce) -> None:
    with pytest.raises(SalesforceGeneralError) as failed:
        sf.bulk.Task.query("SELECT Nope FROM Task")
    assert "InvalidBatch : Failed to process query: INVALID_FIELD" in str(failed.value.content)


def test_query_timeout_fails_the_batch_and_pk_chunking_gets_through(
    emulator_factory: Any, emulator_org: Path
) -> None:
    emu: EmulatorHandle = emulator_factory()
    emu.set_faults("querytimeout=2000")
    sf = salesforce_client(emu)
    with pytest.raises(SalesforceGeneralError) as failed:
        sf.bulk.Task.query_all(SOQL)
    assert "QUERY_TIMEOUT" in str(failed.value.content)
    handler = sf.bulk
    handler.headers["Sforce-Enable-PKChunking"] = "chunkSize=2000"
    task = handler.Task
    job = task._create_job(operation="queryAll", use_serial=False)
    task._add_batch(job_id=job["id"], data=SOQL, operation="queryAll")
    states = sorted(b["state"] for b in settled_batches(sf, job["id"]))
    assert states == ["Completed"] * math.ceil(len(org_rows(emulator_org)) / 2000) + ["NotProcessed"]


def test_expired_session_is_invalid_session_id(emulator_factory: Any) -> None:
    emu: EmulatorHandle = emulator_factory()
    sf = salesforce_client(emu)
    emu.expire_tokens()
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.bulk.Task.query("SELECT Id FROM Task")
    assert refused.value.content == {
        "exceptionCode": "InvalidSessionId",
        "exceptionMessage": "Invalid session id",
    }
    xml = client_session(emu).post(
        f"{emu.instance_url}/services/async/62.0/job",
        data=JOB_XML.format(operation="query", object="Task"),
        headers={"X-SFDC-Session": "bogus", "Content-Type": "application/xml; charset=UTF-8"},
    )
    assert xml.status_code == 400
    assert ET.fromstring(xml.content).findtext("a:exceptionCode", namespaces=NS) == "InvalidSessionId"


def polled_state(session: requests.Session, url: str, headers: dict[str, str]) -> str | None:
    """A batch's XML state once it is neither queued nor running."""
    deadline = time.monotonic() + 60
    while True:
        state = ET.fromstring(session.get(url, headers=headers).content).findtext("a:state", namespaces=NS)
        if state not in ("Queued", "InProgress") or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


JOB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">
  <operation>{operation}</operation><object>{object}</object><contentType>CSV</contentType>
</jobInfo>"""


def test_xml_job_with_csv_results(emulator: EmulatorHandle, emulator_org: Path) -> None:
    session = client_session(emulator)
    base = f"{emulator.instance_url}/services/async/62.0"
    headers = {"X-SFDC-Session": emulator.access_token(), "Content-Type": "application/xml; charset=UTF-8"}
    limits_before = salesforce_client(emulator).limits()["DailyBulkApiBatches"]["Remaining"]
    created = session.post(
        f"{base}/job", data=JOB_XML.format(operation="queryAll", object="Task"), headers=headers
    )
    assert created.status_code == 201
    job = ET.fromstring(created.content)
    job_id = job.findtext("a:id", namespaces=NS)
    assert (job.findtext("a:state", namespaces=NS), job.findtext("a:contentType", namespaces=NS)) == (
        "Open",
        "CSV",
    )
    batch = session.post(
        f"{base}/job/{job_id}/batch", data=SOQL, headers={**headers, "Content-Type": "text/csv"}
    )
    batch_id = ET.fromstring(batch.content).findtext("a:id", namespaces=NS)
    assert ET.fromstring(batch.content).findtext("a:state", namespaces=NS) == "Queued"
    closed = session.post(
        f"{base}/job/{job_id}",
        data='<jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload"><state>Closed</state></jobInfo>',
        headers=headers,
    )
    assert ET.fromstring(closed.content).findtext("a:state", namespaces=NS) == "Closed"
    assert polled_state(session, f"{base}/job/{job_id}/batch/{batch_id}", headers) == "Completed"
    listing = ET.fromstring(session.get(f"{base}/job/{job_id}/batch", headers=headers).content)
    assert [b.findtext("a:state", namespaces=NS) for b in listing.findall("a:batchInfo", NS)] == ["Completed"]
    results = ET.fromstring(
        session.get(f"{base}/job/{job_id}/batch/{batch_id}/result", headers=headers).content
    )
    (result_id,) = [r.text for r in results.findall("a:result", NS)]
    body = session.get(f"{base}/job/{job_id}/batch/{batch_id}/result/{result_id}", headers=headers).text
    assert body.splitlines()[0] == ",".join(f'"{f}"' for f in FIELDS)  # Bulk 1.0 quotes every value
    rows = {r["Id"]: r for r in csv.DictReader(io.StringIO(body))}
    expected = org_rows(emulator_org)
    assert set(rows) == set(expected)
    assert all(rows[k][f] == v[f] for k, v in expected.items() for f in FIELDS)
    # a closed job takes no batch; an unknown job is InvalidJob
    late = session.post(
        f"{base}/job/{job_id}/batch", data=SOQL, headers={**headers, "Content-Type": "text/csv"}
    )
    assert ET.fromstring(late.content).findtext("a:exceptionCode", namespaces=NS) == "InvalidJobState"
    unknown = session.get(f"{base}/job/750000000000000AAA", headers=headers)
    assert (
        unknown.status_code,
        ET.fromstring(unknown.content).findtext("a:exceptionCode", namespaces=NS),
    ) == (
        400,
        "InvalidJob",
    )
    limits_after = salesforce_client(emulator).limits()["DailyBulkApiBatches"]["Remaining"]
    assert limits_before - limits_after == 1


def test_empty_result_and_abort(emulator: EmulatorHandle) -> None:
    session = client_session(emulator)
    base = f"{emulator.instance_url}/services/async/62.0"
    headers = {"X-SFDC-Session": emulator.access_token(), "Content-Type": "application/json"}
    job = session.post(
        f"{base}/job", json={"operation": "query", "object": "Task", "contentType": "CSV"}, headers=headers
    ).json()
    batch = session.post(
        f"{base}/job/{job['id']}/batch",
        data="SELECT Id FROM Task WHERE Subject = 'no such subject'",
        headers={**headers, "Content-Type": "text/csv"},
    )
    batch_id = ET.fromstring(batch.content).findtext("a:id", namespaces=NS)
    # clients poll the batch before reading results; the status call lets it finish
    assert polled_state(session, f"{base}/job/{job['id']}/batch/{batch_id}", headers) == "Completed"
    results = ET.fromstring(
        session.get(f"{base}/job/{job['id']}/batch/{batch_id}/result", headers=headers).content
    )
    (result_id,) = [r.text for r in results.findall("a:result", NS)]
    empty = session.get(f"{base}/job/{job['id']}/batch/{batch_id}/result/{result_id}", headers=headers)
    assert empty.text == "Records not found for this query"
    aborted = session.post(f"{base}/job/{job['id']}", json={"state": "Aborted"}, headers=headers).json()
    assert aborted["state"] == "Aborted"
    again = session.post(f"{base}/job/{job['id']}", json={"state": "Closed"}, headers=headers)
    assert (again.status_code, again.json()["exceptionCode"]) == (400, "InvalidJobState")
