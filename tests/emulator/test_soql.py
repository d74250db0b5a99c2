"""The SOQL subset, construct by construct, against a small org built by hand.

"Today" is pinned to Wednesday 2026-03-18 (UTC); expected rows are worked out from the
rows below, not from the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from salescoach_emulator.ids import make_id
from salescoach_emulator.soql import SoqlError
from salescoach_emulator.store.org import OrgStore
from tests.plugins.emulator import write_org

U1, U2, U3 = (make_id("005", n) for n in (1, 2, 3))
T1, T2, T3, T4, T5, T6 = (make_id("00T", n) for n in range(1, 7))
NAMES = {T1: "t1", T2: "t2", T3: "t3", T4: "t4", T5: "t5", T6: "t6"}
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)


def _task(task_id: str, **fields: object) -> dict[str, object]:
    return {"Id": task_id, "Status": "Not Started", **fields}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrgStore]:
    org = write_org(
        tmp_path_factory.mktemp("soql-org"),
        {
            "User": [
                {"Id": U1, "FirstName": "Ann", "LastName": "Lee", "IsActive": True},
                {"Id": U2, "FirstName": "Bob", "LastName": "Stone", "IsActive": True, "ManagerId": U1},
                {"Id": U3, "FirstName": "cat", "LastName": "smith", "IsActive": False, "ManagerId": U1},
            ],
            "Task": [
                _task(
                    T1,
                    Subject="Call Ann",
                    Status="Completed",
                    ActivityDate="2026-03-18",
                    OwnerId=U2,
                    Tags__c="a;b",
                    CallDurationInSeconds=300,
                    CreatedDate="2026-03-18T08:00:00.000Z",
                ),
                _task(
                    T2,
                    Subject="Email 50% off",
                    ActivityDate="2026-03-17",
                    OwnerId=U2,
                    Tags__c="b",
                    CreatedDate="2026-03-17T23:59:59.000Z",
                ),
                _task(
                    T3,
                    Subject="Meet_up",
                    ActivityDate="2026-03-19",
                    OwnerId=U3,
                    CallDurationInSeconds=60,
                    CreatedDate="2026-02-10T00:00:00.000Z",
                ),
                _task(
                    T4,
                    Subject="Old call",
                    ActivityDate="2025-01-10",
                    OwnerId=U1,
                    Tags__c="c",
                    CreatedDate="2025-01-10T09:00:00.000Z",
                ),
                _task(
                    T5,
                    Subject="Deleted",
                    ActivityDate="2026-03-01",
                    OwnerId=U1,
                    IsDeleted=True,
                    CreatedDate="2026-03-01T09:00:00.000Z",
                ),
                _task(T6, OwnerId=U2, CallDurationInSeconds=120, CreatedDate="2026-03-01T00:00:00.000Z"),
            ],
        },
        fields={"Task": {"Tags__c": {"type": "picklist"}}},
    )
    org_store = OrgStore(org, tmp_path_factory.mktemp("soql-state"), clock=lambda: NOW)
    yield org_store
    org_store.close()


def run(store: OrgStore, soql: str, *, all_rows: bool = False) -> list[str]:
    """Names (t1..t6) of the rows a query returns, in order."""
    page = store.results.query_page(
        store.compile(soql), include_deleted=all_rows, batch_size=2000, api_version="62.0"
    )
    return [NAMES[r["attributes"]["url"].rsplit("/", 1)[1]] for r in page.records]


CASES = [
    # query leaves out deleted rows and archived activities (t4 is a year old, t5 deleted)
    ("SELECT Id FROM Task", {"t1", "t2", "t3", "t6"}),
    ("select id from task where subject = 'Call Ann'", {"t1"}),
    # comparisons; string equality is case-insensitive in SOQL
    ("SELECT Id FROM Task WHERE Subject = 'call ann'", {"t1"}),
    ("SELECT Id FROM Task WHERE Subject != 'Call Ann'", {"t2", "t3", "t6"}),
    ("SELECT Id FROM Task WHERE Subject <> 'Call Ann'", {"t2", "t3", "t6"}),
    ("SELECT Id FROM Task WHERE CallDurationInSeconds > 100", {"t1", "t6"}),
    ("SELECT Id FROM Task WHERE CallDurationInSeconds >= 120", {"t1", "t6"}),
    ("SELECT Id FROM Task WHERE CallDurationInSeconds < 120", {"t3"}),
    ("SELECT Id FROM Task WHERE CallDurationInSeconds <= 60", {"t3"}),
    # LIKE: case-insensitive, % and _ wildcards, \% and \_ literal
    ("SELECT Id FROM Task WHERE Subject LIKE 'call%'", {"t1"}),
    ("SELECT Id FROM Task WHERE Subject LIKE '%50\\% off'", {"t2"}),
    ("SELECT Id FROM Task WHERE Subject LIKE 'Meet\\_%'", {"t3"}),
    ("SELECT Id FROM Task WHERE Subject LIKE 'Mee__up'", {"t3"}),
    ("SELECT Id FROM Task WHERE Subject LIKE '%50_ off'", {"t2"}),
    # IN / NOT IN (NOT IN keeps nulls)
    ("SELECT Id FROM Task WHERE Subject IN ('Call Ann', 'Meet_up')", {"t1", "t3"}),
    ("SELECT Id FROM Task WHERE Subject NOT IN ('Call Ann')", {"t2", "t3", "t6"}),
    ("SELECT Id FROM Task WHERE CallDurationInSeconds IN (60, 300)", {"t1", "t3"}),
    # null
    ("SELECT Id FROM Task WHERE Subject = null", {"t6"}),
    ("SELECT Id FROM Task WHERE Subject != null", {"t1", "t2", "t3"}),
    # booleans (IsClosed derived from Status on import)
    ("SELECT Id FROM Task WHERE IsClosed = true", {"t1"}),
    ("SELECT Id FROM Task WHERE IsClosed = FALSE", {"t2", "t3", "t6"}),
    # date literals: today is Wed 2026-03-18; weeks start on Sunday 03-15
    ("SELECT Id FROM Task WHERE ActivityDate = TODAY", {"t1"}),
    ("SELECT Id FROM Task WHERE ActivityDate = YESTERDAY", {"t2"}),
    ("SELECT Id FROM Task WHERE ActivityDate = TOMORROW", {"t3"}),
    ("SELECT Id FROM Task WHERE ActivityDate < TODAY", {"t2"}),
    ("SELECT Id FROM Task WHERE ActivityDate >= YESTERDAY", {"t1", "t2", "t3"}),
    ("SELECT Id FROM Task WHERE ActivityDate > TODAY", {"t3"}),
    ("SELECT Id FROM Task WHERE ActivityDate <= TODAY", {"t1", "t2"}),
    ("SELECT Id FROM Task WHERE ActivityDate = LAST_N_DAYS:1", {"t1", "t2"}),
    ("SELECT Id FROM Task WHERE ActivityDate = NEXT_N_DAYS:1", {"t3"}),
    ("SELECT Id FROM Task WHERE ActivityDate = THIS_WEEK", {"t1", "t2", "t3"}),
    ("SELECT Id FROM Task WHERE ActivityDate = THIS_MONTH", {"t1", "t2", "t3"}),
    ("SELECT Id FROM Task WHERE ActivityDate != TODAY", {"t2", "t3", "t6"}),
    ("SELECT Id FROM Task WHERE CreatedDate = TODAY", {"t1"}),
    ("SELECT Id FROM Task WHERE CreatedDate = YESTERDAY", {"t2"}),
    ("SELECT Id FROM Task WHERE CreatedDate = LAST_MONTH", {"t3"}),
    ("SELECT Id FROM Task WHERE CreatedDate = THIS_YEAR", {"t1", "t2", "t3", "t6"}),
    ("SELECT Id FROM Task WHERE CreatedDate = LAST_N_DAYS:20", {"t1", "t2", "t6"}),
    ("SELECT Id FROM Task WHERE CreatedDate = THIS_QUARTER", {"t1", "t2", "t3", "t6"}),
    # date and datetime literals, with offsets
    ("SELECT Id FROM Task WHERE ActivityDate = 2026-03-19", {"t3"}),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-03-17T23:00:00Z", {"t1", "t2"}),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-03-18T00:00:00+01:00", {"t1", "t2"}),
    ("SELECT Id FROM Task WHERE CreatedDate >= 2026-03-17T23:59:59.000Z", {"t1", "t2"}),
    ("SELECT Id FROM Task WHERE CreatedDate < 2026-03-01T00:00:00-00:00", {"t3"}),
    # fractional seconds of any length (singer taps send six digits); t1 is 08:00:00Z
    ("SELECT Id FROM Task WHERE CreatedDate >= 2026-03-17T23:59:59.000000Z", {"t1", "t2"}),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-03-18T07:59:59.5Z", {"t1"}),
    ("SELECT Id FROM Task WHERE CreatedDate < 2026-03-18T09:00:00.000000+01:00", {"t2", "t3", "t6"}),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-03-18T02:59:59.123456-05:00", {"t1"}),
    # N_x_AGO:n: the whole unit n units back (weeks from Sunday)
    ("SELECT Id FROM Task WHERE CreatedDate = N_MONTHS_AGO:1", {"t3"}),
    ("SELECT Id FROM Task WHERE CreatedDate = N_WEEKS_AGO:2", {"t6"}),
    ("SELECT Id FROM Task WHERE CreatedDate = N_DAYS_AGO:1", {"t2"}),
    ("SELECT Id FROM Task WHERE CreatedDate = N_QUARTERS_AGO:0", {"t1", "t2", "t3", "t6"}),
    # AND / OR / NOT / parentheses, parent fields in filters
    (
        "SELECT Id FROM Task WHERE (Subject = 'Call Ann' OR Subject = 'Meet_up') AND Owner.IsActive = true",
        {"t1"},
    ),
    ("SELECT Id FROM Task WHERE NOT (Status = 'Completed')", {"t2", "t3", "t6"}),
    ("SELECT Id FROM Task WHERE NOT Status = 'Completed' AND OwnerId = '" + U2 + "'", {"t2", "t6"}),
    ("SELECT Id FROM Task WHERE Owner.Name = 'Ann Lee'", set()),
    ("SELECT Id FROM Task WHERE Owner.Manager.Name = 'Ann Lee'", {"t1", "t2", "t3", "t6"}),
    # multi-select picklists
    ("SELECT Id FROM Task WHERE Tags__c INCLUDES ('a')", {"t1"}),
    ("SELECT Id FROM Task WHERE Tags__c INCLUDES ('b')", {"t1", "t2"}),
    ("SELECT Id FROM Task WHERE Tags__c INCLUDES ('a;b', 'zzz')", {"t1"}),
    ("SELECT Id FROM Task WHERE Tags__c EXCLUDES ('b')", {"t3", "t6"}),
    # 15-character ids are accepted and normalised
    ("SELECT Id FROM Task WHERE Id = '" + T1[:15] + "'", {"t1"}),
    ("SELECT Id FROM Task WHERE OwnerId IN ('" + U3[:15] + "')", {"t3"}),
]


@pytest.mark.parametrize(("soql", "expected"), CASES, ids=[c[0][25:90] for c in CASES])
def test_where_clause_selects_expected_rows(store: OrgStore, soql: str, expected: set[str]) -> None:
    assert set(run(store, soql)) == expected


ORDERED = [
    ("SELECT Id FROM Task ORDER BY CallDurationInSeconds DESC NULLS LAST", ["t1", "t6", "t3", "t2"]),
    ("SELECT Id FROM Task ORDER BY CallDurationInSeconds", ["t2", "t3", "t6", "t1"]),
    ("SELECT Id FROM Task ORDER BY CallDurationInSeconds ASC NULLS LAST", ["t3", "t6", "t1", "t2"]),
    ("SELECT Id FROM Task ORDER BY OwnerId, Subject DESC", ["t2", "t1", "t6", "t3"]),
    ("SELECT Id FROM Task ORDER BY Owner.Name DESC, Subject", ["t3", "t6", "t1", "t2"]),
    (
        "SELECT Id FROM Task ORDER BY CallDurationInSeconds DESC NULLS LAST LIMIT 2 OFFSET 1",
        ["t6", "t3"],
    ),
    ("SELECT Id FROM Task ORDER BY CreatedDate LIMIT 1", ["t3"]),
]


@pytest.mark.parametrize(("soql", "expected"), ORDERED, ids=[c[0][20:90] for c in ORDERED])
def test_order_limit_offset_give_rows_in_order(store: OrgStore, soql: str, expected: list[str]) -> None:
    assert run(store, soql) == expected


def test_query_all_adds_deleted_and_archived_rows(store: OrgStore) -> None:
    assert set(run(store, "SELECT Id FROM Task", all_rows=True)) == {"t1", "t2", "t3", "t4", "t5", "t6"}
    assert run(store, "SELECT Id FROM Task WHERE IsDeleted = true", all_rows=True) == ["t5"]
    assert run(store, "SELECT Id FROM Task WHERE IsArchived = true", all_rows=True) == ["t4"]


def test_n_years_ago_reaches_last_years_archived_row(store: OrgStore) -> None:
    # t4 (2025-01-10) is archived, so only queryAll sees it
    assert run(store, "SELECT Id FROM Task WHERE CreatedDate = N_YEARS_AGO:1", all_rows=True) == ["t4"]
    assert run(store, "SELECT Id FROM Task WHERE ActivityDate = N_YEARS_AGO:1", all_rows=True) == ["t4"]


def test_count_counts_matching_rows(store: OrgStore) -> None:
    page = store.results.query_page(
        store.compile("SELECT COUNT() FROM Task WHERE Status = 'Not Started'"),
        include_deleted=False,
        batch_size=2000,
        api_version="62.0",
    )
    assert (page.total, page.records) == (3, [])


def test_parent_fields_nest_like_salesforce(store: OrgStore) -> None:
    page = store.results.query_page(
        store.compile(f"SELECT Subject, Owner.Name, Owner.Manager.Name FROM Task WHERE Id = '{T3}'"),
        include_deleted=False,
        batch_size=2000,
        api_version="62.0",
    )
    record = page.records[0]
    assert record["Subject"] == "Meet_up"
    assert record["Owner"]["attributes"] == {
        "type": "User",
        "url": f"/services/data/v62.0/sobjects/User/{U3}",
    }
    assert record["Owner"]["Name"] == "cat smith"
    assert record["Owner"]["Manager"]["Name"] == "Ann Lee"


def test_missing_parent_is_null(store: OrgStore) -> None:
    page = store.results.query_page(
        store.compile(f"SELECT Manager.Name FROM User WHERE Id = '{U1}'"),
        include_deleted=False,
        batch_size=2000,
        api_version="62.0",
    )
    assert page.records[0]["Manager"] is None


ERRORS = [
    ("SELECT Foo FROM Task", "INVALID_FIELD"),
    ("SELECT Owner.Foo FROM Task", "INVALID_FIELD"),
    ("SELECT Bogus.Name FROM Task", "INVALID_FIELD"),
    ("SELECT Id FROM Nope", "INVALID_TYPE"),
    ("SELECT Id FROM Task WHERE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE Subject = 'a' AND Status = 'b' OR Status = 'c'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-01-01", "INVALID_FIELD"),
    ("SELECT Id FROM Task WHERE IsClosed = 'true'", "INVALID_FIELD"),
    ("SELECT Id FROM Task WHERE Subject = 5", "INVALID_FIELD"),
    ("SELECT Id FROM Task WHERE Subject = 'open", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task GROUP BY OwnerId", "MALFORMED_QUERY"),
    ("SELECT Id, (SELECT Id FROM Tasks) FROM User", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE OwnerId IN (SELECT Id FROM User)", "MALFORMED_QUERY"),
    ("SELECT max(CallDurationInSeconds) FROM Task", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task LIMIT -1", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-03-17T23:00:00", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-03-17T23:00:00.Z", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-02-30T00:00:00Z", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE CreatedDate > 2026-03-17T25:00:00Z", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE CreatedDate = LAST_N_DAYS", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE CreatedDate = N_YEARS_AGO:x", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task ORDER BY", "MALFORMED_QUERY"),
    ("", "MALFORMED_QUERY"),
    ("DELETE FROM Task", "MALFORMED_QUERY"),
]


@pytest.mark.parametrize(("soql", "code"), ERRORS, ids=[c[0][:60] or "empty" for c in ERRORS])
def test_bad_soql_is_refused_with_salesforce_error_code(store: OrgStore, soql: str, code: str) -> None:
    with pytest.raises(SoqlError) as caught:
        store.compile(soql)
    assert caught.value.error_code == code


def test_values_are_bound_not_interpolated(store: OrgStore) -> None:
    injection = "x' OR 1=1 --"
    escaped = injection.replace("'", "\\'")
    compiled = store.compile(f"SELECT Id FROM Task WHERE Subject = '{escaped}'")
    assert injection in compiled.params
    assert "1=1" not in compiled.where_sql
    assert run(store, f"SELECT Id FROM Task WHERE Subject = '{escaped}'") == []


def test_csv_import_keeps_hand_built_rows_typed(store: OrgStore) -> None:
    describe = store.get_object("Task")
    assert describe is not None
    assert describe.fields["Tags__c"].type == "picklist"
    assert describe.fields["CallDurationInSeconds"].type == "int"
