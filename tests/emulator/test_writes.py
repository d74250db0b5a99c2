"""Writes through simple-salesforce: CRUD, upsert by external id, sObject collections,
system fields, stage history, the recycle bin and getDeleted/getUpdated.

Each test runs on a private emulator, so the shared demo org stays untouched.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from salescoach_core.sfids import is_valid_id
from salescoach_emulator import start_emulator
from tests.plugins.emulator import EmulatorFactory, salesforce_client


@pytest.fixture
def private_sf(emulator_factory: EmulatorFactory) -> Salesforce:
    return salesforce_client(emulator_factory())


def _owner(sf: Salesforce) -> str:
    return str(sf.query("SELECT Id FROM User WHERE IsActive = true LIMIT 1")["records"][0]["Id"])


def test_create_get_update_delete_round_trip(private_sf: Salesforce) -> None:
    sf = private_sf
    before = datetime.now(UTC) - timedelta(seconds=1)
    created = sf.Task.create({"Subject": "Call back", "OwnerId": _owner(sf)})
    assert created["success"] is True
    assert created["errors"] == []
    task_id = created["id"]
    assert task_id.startswith("00T")
    assert len(task_id) == 18
    assert is_valid_id(task_id)
    task = sf.Task.get(task_id)
    assert task["Status"] == "Not Started"
    assert task["IsClosed"] is False
    assert task["IsDeleted"] is False
    stamp = datetime.strptime(task["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert stamp >= before
    assert task["CreatedDate"] == task["LastModifiedDate"]

    assert sf.Task.update(task_id, {"Status": "Completed"}) == 204
    done = sf.Task.get(task_id[:15])  # 15-character ids are accepted
    assert done["IsClosed"] is True
    assert done["CompletedDateTime"] is not None
    assert done["SystemModstamp"] >= task["SystemModstamp"]

    assert sf.Task.delete(task_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Task.get(task_id)
    assert sf.query(f"SELECT Id FROM Task WHERE Id = '{task_id}'")["totalSize"] == 0
    again = sf.query_all(f"SELECT Id, IsDeleted FROM Task WHERE Id = '{task_id}'", include_deleted=True)
    assert again["records"][0]["IsDeleted"] is True


def test_write_errors_use_salesforce_codes(private_sf: Salesforce) -> None:
    sf = private_sf
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.Task.create({"Subject": "x", "Nope__c": 1})
    assert unknown.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Opportunity.create({"Name": "No stage"})
    assert missing.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert set(missing.value.content[0]["fields"]) == {"StageName", "CloseDate"}
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sf.Task.create({"Subject": "x", "IsClosed": True})
    assert read_only.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as bad_ref:
        sf.Task.create({"Subject": "x", "OwnerId": "005000000000000AAA"})
    assert bad_ref.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Task.update("00T9z0000009999AAA", {"Subject": "ghost"})


def test_upsert_by_external_id_twice_makes_one_record(private_sf: Salesforce) -> None:
    sf = private_sf
    first = sf.Task.upsert("Salescoach_Id__c/ai-42", {"Subject": "Send deck"}, raw_response=True)
    assert first.status_code == 201
    assert first.json()["created"] is True
    second = sf.Task.upsert("Salescoach_Id__c/ai-42", {"Subject": "Send deck v2"}, raw_response=True)
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert second.json()["id"] == first.json()["id"]
    rows = sf.query("SELECT Id, Subject FROM Task WHERE Salescoach_Id__c = 'ai-42'")["records"]
    assert [(r["Id"], r["Subject"]) for r in rows] == [(first.json()["id"], "Send deck v2")]
    assert sf.Task.get_by_custom_id("Salescoach_Id__c", "ai-42")["Subject"] == "Send deck v2"


def test_upsert_on_a_field_that_is_not_an_external_id_is_refused(private_sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        private_sf.Task.upsert("Subject/x", {"Status": "Completed"})


def test_opportunity_stage_change_writes_history_and_derives_flags(private_sf: Salesforce) -> None:
    sf = private_sf
    account = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    opp = sf.Opportunity.create(
        {
            "Name": "Deal",
            "StageName": "Prospecting",
            "CloseDate": "2030-01-31",
            "Amount": 5000,
            "AccountId": account,
        }
    )["id"]
    sf.Opportunity.update(opp, {"StageName": "Closed Won"})
    sf.Opportunity.update(opp, {"Type": "New Customer"})  # untracked field: no history row
    won = sf.Opportunity.get(opp)
    assert (won["IsClosed"], won["IsWon"], won["Probability"]) == (True, True, 100.0)
    history = sf.query(
        f"SELECT StageName, Amount, CreatedDate FROM OpportunityHistory WHERE OpportunityId = '{opp}'"
        " ORDER BY CreatedDate"
    )["records"]
    assert [h["StageName"] for h in history] == ["Prospecting", "Closed Won"]
    assert history[0]["Amount"] == 5000.0
    with pytest.raises(SalesforceMalformedRequest) as bad_stage:
        sf.Opportunity.update(opp, {"StageName": "Dreaming"})
    assert bad_stage.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_collections_create_update_upsert_delete_in_request_order(private_sf: Salesforce) -> None:
    sf = private_sf
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Task"}, "Subject": "one"},
                {"attributes": {"type": "Task"}, "Bogus": "two"},
                {"attributes": {"type": "Task"}, "Subject": "three"},
            ],
        },
    )
    assert [r["success"] for r in created] == [True, False, True]
    assert created[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    ids = [created[0]["id"], created[2]["id"]]
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Task"}, "Id": i, "Status": "Completed"} for i in ids]},
    )
    assert all(r["success"] for r in updated)
    upserted = sf.restful(
        "composite/sobjects/Task/Salescoach_Id__c",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Task"}, "Salescoach_Id__c": "k1", "Subject": "a"},
                {"attributes": {"type": "Task"}, "Salescoach_Id__c": "k2", "Subject": "b"},
            ],
        },
    )
    assert [r["created"] for r in upserted] == [True, True]
    again = sf.restful(
        "composite/sobjects/Task/Salescoach_Id__c",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Task"}, "Salescoach_Id__c": "k1", "Subject": "a2"}]},
    )
    assert again[0]["created"] is False
    assert again[0]["id"] == upserted[0]["id"]
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids)})
    assert [r["id"] for r in deleted] == ids
    assert sf.query(f"SELECT COUNT() FROM Task WHERE Id IN ('{ids[0]}', '{ids[1]}')")["totalSize"] == 0


def test_collections_all_or_none_rolls_everything_back(private_sf: Salesforce) -> None:
    sf = private_sf
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Task"}, "Subject": "rollback-me"},
                {"attributes": {"type": "Task"}, "Bogus": "x"},
            ],
        },
    )
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.query("SELECT COUNT() FROM Task WHERE Subject = 'rollback-me'")["totalSize"] == 0


def test_collections_refuse_more_than_200_records(private_sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Task"}, "Subject": str(i)} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        private_sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_deleted_and_updated_report_changes_and_purge_empties_the_bin(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = emulator_factory()
    sf = salesforce_client(emu)
    start = datetime.now(UTC) - timedelta(minutes=5)
    task = sf.Task.create({"Subject": "short-lived"})["id"]
    other = sf.Task.create({"Subject": "kept"})["id"]
    sf.Task.delete(task)
    end = datetime.now(UTC) + timedelta(minutes=1)
    deleted = sf.Task.deleted(start, end)
    assert task in [d["id"] for d in deleted["deletedRecords"]]
    assert deleted["latestDateCovered"].endswith("+0000")
    updated = sf.Task.updated(start, end)
    assert other in updated["ids"]
    assert task not in updated["ids"]

    assert emu.purge_recycle_bin(["Task"]) > 0
    gone = sf.query_all(f"SELECT Id FROM Task WHERE Id = '{task}'", include_deleted=True)
    assert gone["totalSize"] == 0
    after = sf.Task.deleted(start, end)
    assert after["deletedRecords"] == []
    # the bin was emptied just now: nothing before this moment can be trusted any more
    assert after["earliestDateAvailable"] > start.strftime("%Y-%m-%dT%H:%M:%S")


def test_deleted_window_older_than_15_days_is_refused(sf: Salesforce) -> None:
    now = datetime.now(UTC)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.deleted(now - timedelta(days=16), now)
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_persist_writes_changes_back_to_the_org_folder(
    tmp_path_factory: pytest.TempPathFactory, emulator_org: Path
) -> None:
    org = tmp_path_factory.mktemp("persisted") / "org"
    shutil.copytree(emulator_org, org)
    with start_emulator(org, state_dir=tmp_path_factory.mktemp("p1"), persist=True) as emu:
        salesforce_client(emu).Task.upsert("Salescoach_Id__c/persist-me", {"Subject": "kept on disk"})
    with start_emulator(org, state_dir=tmp_path_factory.mktemp("p2")) as emu:
        rows = salesforce_client(emu).query("SELECT Subject FROM Task WHERE Salescoach_Id__c = 'persist-me'")
    assert [r["Subject"] for r in rows["records"]] == ["kept on disk"]


def test_query_gives_null_for_a_missing_parent(private_sf: Salesforce) -> None:
    stage = private_sf.query("SELECT MasterLabel FROM OpportunityStage WHERE IsClosed = false LIMIT 1")
    created = private_sf.Opportunity.create(
        {"Name": "No account", "StageName": stage["records"][0]["MasterLabel"], "CloseDate": "2026-12-31"}
    )
    soql = f"SELECT Account.Name, Name, Owner.Id FROM Opportunity WHERE Id = '{created['id']}'"
    (record,) = private_sf.query(soql)["records"]
    assert list(record) == ["attributes", "Account", "Name", "Owner"]
    assert record["Account"] is None
    assert record["Name"] == "No account"
    assert len(record["Owner"]["Id"]) == 18


def test_text_beyond_ascii_comes_back_as_utf8_as_salesforce_sends_it(private_sf: Salesforce) -> None:
    subject = "Café visit, 東京 👋"
    created = private_sf.Task.create({"OwnerId": _owner(private_sf), "Subject": subject})["id"]

    response = private_sf.session.get(
        f"{private_sf.base_url}query/",
        params={"q": f"SELECT Subject FROM Task WHERE Id = '{created}'"},
        headers=private_sf.headers,
    )

    # The raw body carries the characters as UTF-8, not as \\u escapes: a client reading the
    # bytes (the sync hands them to PostgreSQL as they came) sees what Salesforce would send.
    assert subject.encode() in response.content
    assert response.json()["records"][0]["Subject"] == subject
