"""REST queries, describe and limits through the real simple-salesforce client over HTTPS."""

from __future__ import annotations

import re

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from salescoach_emulator import EmulatorHandle
from tests.plugins.emulator import client_session


def test_query_returns_salesforce_shaped_records(sf: Salesforce) -> None:
    result = sf.query("SELECT Id, Name, Amount, IsWon, CreatedDate, Owner.Name FROM Opportunity LIMIT 3")
    assert result["totalSize"] == 3
    assert result["done"] is True
    record = result["records"][0]
    assert record["attributes"]["type"] == "Opportunity"
    assert record["attributes"]["url"] == f"/services/data/v62.0/sobjects/Opportunity/{record['Id']}"
    assert len(record["Id"]) == 18
    assert record["Id"].startswith("006")
    assert isinstance(record["IsWon"], bool)
    assert record["Amount"] is None or isinstance(record["Amount"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000", record["CreatedDate"])
    assert record["Owner"]["attributes"]["type"] == "User"
    assert isinstance(record["Owner"]["Name"], str)


def test_query_records_keep_the_select_order_with_parents_in_between(sf: Salesforce) -> None:
    soql = "SELECT Owner.Name, Id, Owner.Id, IsClosed, Account.Name, OwnerId, CreatedDate FROM Opportunity"
    records = sf.query(f"{soql} LIMIT 5")["records"]
    assert records
    for record in records:
        # Salesforce writes the fields in SELECT order, a parent where its first field is
        # selected, and its later fields inside that same object.
        assert list(record) == ["attributes", "Owner", "Id", "IsClosed", "Account", "OwnerId", "CreatedDate"]
        assert list(record["Owner"]) == ["attributes", "Name", "Id"]
        assert record["Owner"]["Id"] == record["OwnerId"]
        assert record["Owner"]["attributes"] == {
            "type": "User",
            "url": f"/services/data/v62.0/sobjects/User/{record['OwnerId']}",
        }
        assert isinstance(record["IsClosed"], bool)
        assert record["CreatedDate"].endswith(".000+0000")


def test_query_all_follows_next_records_url_across_pages(sf: Salesforce) -> None:
    count = sf.query("SELECT COUNT() FROM Task")["totalSize"]
    assert count > 2000, "the demo org must need several pages"
    first = sf.query("SELECT Id FROM Task")
    assert first["done"] is False
    assert re.fullmatch(r"/services/data/v62\.0/query/01g\w{15}-2000", first["nextRecordsUrl"])
    assert len(first["records"]) == 2000
    everything = sf.query_all("SELECT Id FROM Task")
    ids = [r["Id"] for r in everything["records"]]
    assert len(ids) == count == everything["totalSize"]
    assert len(set(ids)) == count


def test_query_all_iter_honours_batch_size_header(sf: Salesforce) -> None:
    sf.headers["Sforce-Query-Options"] = "batchSize=500"
    page = sf.query("SELECT Id FROM Task ORDER BY Id")
    assert len(page["records"]) == 500
    assert page["nextRecordsUrl"].endswith("-500")
    ids = [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Task ORDER BY Id")]
    assert ids == sorted(ids)
    assert len(ids) == sf.query("SELECT COUNT() FROM Task")["totalSize"]


def test_query_leaves_out_deleted_and_archived_rows_that_query_all_includes(sf: Salesforce) -> None:
    live = sf.query("SELECT COUNT() FROM Task")["totalSize"]
    every = sf.query("SELECT COUNT() FROM Task", include_deleted=True)["totalSize"]
    deleted = sf.query("SELECT COUNT() FROM Task WHERE IsDeleted = true", include_deleted=True)
    archived = sf.query(
        "SELECT COUNT() FROM Task WHERE IsArchived = true AND IsDeleted = false", include_deleted=True
    )
    assert deleted["totalSize"] > 0
    assert archived["totalSize"] > 0
    assert every == live + deleted["totalSize"] + archived["totalSize"]
    assert sf.query("SELECT COUNT() FROM Task WHERE IsDeleted = true")["totalSize"] == 0


def test_bad_soql_raises_malformed_request_with_error_code(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Task WHERE")
    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.query("SELECT Nope__c FROM Task")
    assert unknown.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as bad_type:
        sf.query("SELECT Id FROM Widget__c")
    assert bad_type.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_describe_lists_standard_and_custom_fields(sf: Salesforce) -> None:
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {
        "User",
        "Account",
        "Contact",
        "Opportunity",
        "OpportunityHistory",
        "OpportunityStage",
        "Task",
        "Event",
    } <= names
    fields = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert fields["Id"]["type"] == "id"
    assert fields["Id"]["nillable"] is False
    assert fields["IsClosed"]["type"] == "boolean"
    assert fields["ActivityDate"]["type"] == "date"
    assert fields["CompletedDateTime"]["type"] == "datetime"
    assert fields["CallDurationInSeconds"]["type"] == "int"
    assert fields["OwnerId"]["type"] == "reference"
    assert fields["OwnerId"]["referenceTo"] == ["User"]
    assert fields["OwnerId"]["relationshipName"] == "Owner"
    assert fields["Salescoach_Id__c"]["externalId"] is True
    assert fields["Salescoach_Id__c"]["custom"] is True
    assert sf.Opportunity.describe()["keyPrefix"] == "006"


def test_unknown_sobject_raises_resource_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Widget__c.describe()


def test_every_response_carries_limit_info_and_limits_agree(emulator: EmulatorHandle, sf: Salesforce) -> None:
    sf.query("SELECT Id FROM User LIMIT 1")
    usage = sf.api_usage["api-usage"]
    assert usage.total == 100_000
    assert usage.used >= 1
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    # the limits call itself is counted, as Salesforce counts it
    assert limits["DailyApiRequests"]["Remaining"] == 100_000 - usage.used - 1


def test_unknown_token_gets_invalid_session_id(emulator: EmulatorHandle) -> None:
    session = client_session(emulator)
    response = session.get(
        f"{emulator.instance_url}/services/data/v62.0/query",
        params={"q": "SELECT Id FROM User"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    sf = Salesforce(instance_url=emulator.instance_url, session_id="nope", session=session, version="62.0")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User")


def test_versions_and_unsupported_version(emulator: EmulatorHandle) -> None:
    session = client_session(emulator)
    versions = session.get(f"{emulator.instance_url}/services/data/").json()
    assert {"59.0", "62.0"} <= {v["version"] for v in versions}
    token = emulator.access_token()
    bad = session.get(
        f"{emulator.instance_url}/services/data/v7.0/limits", headers={"Authorization": f"Bearer {token}"}
    )
    assert bad.status_code == 404


def test_the_ca_bundle_is_what_makes_tls_verify(emulator: EmulatorHandle) -> None:
    session = requests.Session()
    session.trust_env = False  # system CAs only: the emulator's certificate must be refused
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{emulator.instance_url}/services/data/")
