"""Full then incremental sync against the emulator over HTTPS: the database equals the org,
row for row and field for field, through updates, nulls, custom fields, deletes and purges."""

from __future__ import annotations

import csv
import json
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
from sqlalchemy import text

from salescoach_sync import engine as engine_module
from salescoach_sync.client import ResultPage
from salescoach_sync.errors import SyncError
from salescoach_sync.load import _checked_header
from salescoach_sync.report import SyncReport
from salescoach_sync.service import run_once
from tests.plugins.sync import (
    FIELDS,
    SyncEnv,
    SyncEnvFactory,
    assert_matches_org,
    csv_table,
    db_table,
    differences,
)


def _result(report: SyncReport, object_name: str) -> Any:
    return next(r for r in report.results if r.object_name == object_name)


def _break_each_page_once(monkeypatch: pytest.MonkeyPatch) -> set[str | None]:
    """Cut every first attempt at a Bulk result page after its first bytes, as a dropped
    connection would; returns the set of pages (URLs) broken so far."""
    real_iter = ResultPage.iter_bytes
    broken: set[str | None] = set()

    def flaky(page: ResultPage, chunk_size: int = 1 << 20) -> Any:
        key = page.response.url
        for index, chunk in enumerate(real_iter(page, 200)):
            yield chunk
            if index == 1 and key not in broken:
                broken.add(key)
                raise requests.exceptions.ChunkedEncodingError("connection broken mid-page")

    monkeypatch.setattr(ResultPage, "iter_bytes", flaky)
    return broken


def test_full_sync_equals_the_org_export_row_for_row(sync_env: SyncEnv) -> None:
    report = sync_env.run()

    assert report.ok, report.first_error
    assert [r.mode for r in report.results] == ["full"] * 6
    for object_name in FIELDS:
        expected = csv_table(sync_env.org_dir, object_name)
        problems = differences(expected, db_table(sync_env.engine, object_name))
        assert not problems, f"{object_name}: " + "; ".join(problems)
        assert _result(report, object_name).inserted == len(expected)
    # The export really holds what the test claims to check.
    tasks = csv_table(sync_env.org_dir, "Task")
    assert any(t["IsDeleted"] == "true" for t in tasks.values())
    assert any(t["IsArchived"] == "true" for t in tasks.values())
    assert any(t["Salescoach_Id__c"] for t in tasks.values())
    opportunities = csv_table(sync_env.org_dir, "Opportunity")
    assert any(o["Amount"] is None for o in opportunities.values())
    assert any(o["Score__c"] is None for o in opportunities.values())


def test_synced_tables_leave_page_space_for_in_place_updates(sync_env: SyncEnv) -> None:
    # Set by migration (docs/sync.md): a merge of changed rows updates them in place (HOT).
    with sync_env.engine.connect() as conn:
        options = dict(
            conn.exec_driver_sql(
                "SELECT relname, reloptions FROM pg_class WHERE relname IN "
                "('sf_opportunity', 'sf_opportunity_history', 'sf_task', 'sf_event')"
            ).all()
        )
    tables = ("sf_opportunity", "sf_opportunity_history", "sf_task", "sf_event")
    assert options == {table: ["fillfactor=90"] for table in tables}


def test_second_pass_is_incremental_and_changes_nothing(sync_env: SyncEnv) -> None:
    sync_env.run()
    calls_full = sync_env.emulator.stats()["apiUsage"]["used"]

    report = sync_env.run()

    assert report.ok
    assert {r.mode for r in report.results} == {"incremental"}
    assert sum(r.inserted + r.updated + r.deleted for r in report.results) == 0
    # A new engine (a new process) describes nothing: the first pass saved the describes.
    # Right after the full read each object reads its overlap window (a REST query each; no
    # COUNT() first: the tables are smaller than the REST threshold), and getDeleted is not due
    # (the full read covered deletes). No Bulk job for an unchanged org.
    assert sync_env.emulator.stats()["apiUsage"]["used"] - calls_full <= 6 + 1


def test_a_quiet_pass_costs_at_most_two_calls_by_the_emulators_count(
    sync_env_factory: SyncEnvFactory,
) -> None:
    # Reads at least `overlap` old: the probes are trusted (none of our rows is newer than P).
    env = sync_env_factory(sync_overlap_seconds=1, sync_deleted_every_minutes=0)
    env.run()
    time.sleep(1.1)
    env.run()  # reads each window once more: the last read now began after the newest record
    time.sleep(1.1)
    before = env.emulator.stats()

    report = env.run()  # deletes are due too (every pass): they ride in the same composite

    after = env.emulator.stats()
    assert report.ok, report.first_error
    assert sum(r.inserted + r.updated + r.deleted for r in report.results) == 0
    # Counted by the emulator (Sforce-Limit-Info's api-usage), not by our client.
    assert after["apiUsage"]["used"] - before["apiUsage"]["used"] <= 2
    assert after["handlers"].get("composite", 0) - before["handlers"].get("composite", 0) >= 1
    # The four getDeleted spans ran as subrequests of the composite (handlers count those).
    assert after["handlers"].get("deleted", 0) - before["handlers"].get("deleted", 0) == 4


def test_incremental_follows_updates_nulls_custom_fields_creates_deletes_and_purges(
    sync_env_factory: SyncEnvFactory,
) -> None:
    # getDeleted every pass: the purge below is noticed by the very next one.
    sync_env = sync_env_factory(sync_deleted_every_minutes=0)
    sync_env.run()
    sf = sync_env.salesforce()
    opportunities = sf.query(
        "SELECT Id FROM Opportunity WHERE IsDeleted = false AND LeadSource != null ORDER BY Id LIMIT 3"
    )["records"]
    first, second, third = (o["Id"] for o in opportunities)
    sf.Opportunity.update(first, {"Amount": 123456.78, "LeadSource": None, "Region__c": "LATAM"})
    sf.Opportunity.update(second, {"Score__c": None, "Strategic__c": True, "Renewal_Date__c": "2028-02-29"})
    sf.Opportunity.delete(third)
    owner = sf.query("SELECT OwnerId FROM Opportunity LIMIT 1")["records"][0]["OwnerId"]
    created = sf.Task.create(
        {"OwnerId": owner, "Subject": "Call", "Status": "Completed", "ActivityDate": date.today().isoformat(),
         "TaskSubtype": "Call", "Salescoach_Id__c": "sc-new-1"}
    )["id"]  # fmt: skip
    tasks = sf.query("SELECT Id FROM Task WHERE IsDeleted = false ORDER BY Id LIMIT 2")["records"]
    sf.Task.delete(tasks[0]["Id"])
    sf.Task.delete(tasks[1]["Id"])

    report = sync_env.run()

    assert report.ok, report.first_error
    assert {r.mode for r in report.results} == {"incremental"}
    assert _result(report, "Task").inserted == 1
    assert _result(report, "Task").deleted == 2
    assert _result(report, "Opportunity").updated == 2
    assert _result(report, "Opportunity").deleted == 1
    assert_matches_org(sync_env)
    row = db_table(sync_env.engine, "Opportunity")[first]
    assert (row["Amount"], row["LeadSource"], row["Region__c"]) == ("123456.78", None, "LATAM")
    assert db_table(sync_env.engine, "Task")[created]["Salescoach_Id__c"] == "sc-new-1"

    # Emptying the recycle bin makes deleted rows vanish from queryAll: the next pass notices
    # (getDeleted's earliestDateAvailable moves) and reconciles the id sets.
    purged_before = sync_env.table_count("sf_task")
    assert sync_env.emulator.purge_recycle_bin() > 0

    report = sync_env.run()

    assert report.ok, report.first_error
    assert _result(report, "Task").reconciled
    assert _result(report, "Task").deleted > 0
    assert sync_env.table_count("sf_task") < purged_before
    assert_matches_org(sync_env)


def test_large_delta_goes_through_bulk_and_matches(sync_env_factory: SyncEnvFactory) -> None:
    env = sync_env_factory(sync_rest_threshold=0)
    env.run()
    sf = env.salesforce()
    for record in sf.query("SELECT Id FROM Event WHERE IsDeleted = false ORDER BY Id LIMIT 5")["records"]:
        sf.Event.update(record["Id"], {"Subject": "Quarterly review"})
    jobs_before = env.emulator.stats()["handlers"].get("bulk_jobs", 0)

    report = env.run(objects=["Event"])

    assert _result(report, "Event").updated == 5
    assert env.emulator.stats()["handlers"]["bulk_jobs"] == jobs_before + 1
    assert_matches_org(env, ["Event"])


def _synced_with_a_large_event_table(sync_env_factory: SyncEnvFactory) -> SyncEnv:
    """A synced org whose Event table is above the REST threshold (3 rows), as PostgreSQL knows."""
    env = sync_env_factory(sync_rest_threshold=3)
    env.run()
    with env.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE sf_event")
    return env


def test_large_table_learns_the_delta_size_with_count(sync_env_factory: SyncEnvFactory) -> None:
    env = _synced_with_a_large_event_table(sync_env_factory)
    sf = env.salesforce()
    for record in sf.query("SELECT Id FROM Event WHERE IsDeleted = false ORDER BY Id LIMIT 5")["records"]:
        sf.Event.update(record["Id"], {"Subject": "Pipeline review"})
    handlers = env.emulator.stats()["handlers"]

    report = env.run(objects=["Event"])

    assert _result(report, "Event").updated == 5
    after = env.emulator.stats()["handlers"]
    assert after["bulk_jobs"] == handlers.get("bulk_jobs", 0) + 1
    assert after["query_all"] == handlers.get("query_all", 0) + 1  # the COUNT(), no page of records
    assert_matches_org(env, ["Event"])


def test_a_large_tables_window_count_rides_in_the_probe(sync_env_factory: SyncEnvFactory) -> None:
    # Right after a read, within the overlap, the probe cannot be trusted to say "nothing" and the
    # window is read again; a table above the REST threshold needs the window's size to choose
    # REST or Bulk. The composite that probes the other objects counts it too: the pass costs the
    # composite and the REST read, no COUNT() call of its own.
    env = _synced_with_a_large_event_table(sync_env_factory)
    sf = env.salesforce()
    first, second = sf.query("SELECT Id FROM Event WHERE IsDeleted = false ORDER BY Id LIMIT 2")["records"]
    sf.Event.update(first["Id"], {"Subject": "Pipeline review"})
    assert _result(env.run(objects=["Event"]), "Event").updated == 1  # we now hold a record stamped now
    sf.Event.update(second["Id"], {"Subject": "Pipeline review"})
    before = env.emulator.stats()

    report = env.run()

    after = env.emulator.stats()
    assert report.ok, report.first_error
    assert _result(report, "Event").updated == 1  # the first one is read again, unchanged
    assert after["apiUsage"]["used"] - before["apiUsage"]["used"] == 2  # the composite and the read
    assert after["handlers"]["composite"] == before["handlers"].get("composite", 0) + 1
    assert after["handlers"].get("bulk_jobs", 0) == before["handlers"].get("bulk_jobs", 0)
    assert_matches_org(env, ["Event"])


def test_a_delta_whose_first_rest_page_shows_it_too_large_counts_its_records_once(
    sync_env_factory: SyncEnvFactory,
) -> None:
    # Within the overlap after a read the probe is not trusted; a table PostgreSQL does not know
    # to be large reads its first REST page, merges it, sees the delta is above the threshold (3)
    # and reads it through Bulk, which merges those records again without writing them: each
    # changed record still counts once.
    env = sync_env_factory(sync_rest_threshold=3)
    env.run()
    sf = env.salesforce()
    events = [
        r["Id"]
        for r in sf.query("SELECT Id FROM Event WHERE IsDeleted = false ORDER BY Id LIMIT 6")["records"]
    ]
    sf.Event.update(events[0], {"Subject": "First change"})
    assert _result(env.run(objects=["Event"]), "Event").updated == 1  # we now hold a record stamped now
    for event in events[1:]:
        sf.Event.update(event, {"Subject": "Second change"})
    jobs = env.emulator.stats()["handlers"].get("bulk_jobs", 0)

    report = env.run(objects=["Event"])

    assert env.emulator.stats()["handlers"]["bulk_jobs"] == jobs + 1
    assert _result(report, "Event").updated == 5
    assert_matches_org(env, ["Event"])


def test_full_flag_rereads_everything_and_drops_rows_the_org_lost(sync_env: SyncEnv) -> None:
    sync_env.run()
    with sync_env.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO sf_event (id, is_deleted, is_archived, custom_fields)"
            " VALUES ('00U000000000000AAA', false, false, '{}')"
        )

    report = sync_env.run(full=True, objects=["Event"])

    assert _result(report, "Event").mode == "full"
    assert _result(report, "Event").deleted == 1
    assert_matches_org(sync_env, ["Event"])


def test_a_result_page_that_breaks_mid_stream_is_loaded_once(
    sync_env_factory: SyncEnvFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sync_env_factory(sync_bulk_page_records=100)
    broken = _break_each_page_once(monkeypatch)

    report = env.run(objects=["Task"])

    assert report.ok, report.first_error
    assert len(broken) >= 3  # several pages each broke once
    assert_matches_org(env, ["Task"])


def test_missing_required_field_is_named_and_optional_one_is_skipped(
    sync_env_factory: SyncEnvFactory,
) -> None:
    env = sync_env_factory(sync_field_sources={"Opportunity": {"Amount": "Missing_Amount__c"}})

    report = env.run(objects=["Opportunity", "Event"])

    opportunity = _result(report, "Opportunity")
    assert opportunity.status == "failed"
    assert "Opportunity.Missing_Amount__c" in (opportunity.error or "")
    assert "SALESCOACH_SYNC_FIELD_SOURCES" in (opportunity.error or "")
    assert _result(report, "Event").status == "ok"  # one object's problem does not stop the others
    assert env.state("Opportunity") is not None
    assert env.state("Opportunity")["last_status"] == "failed"  # type: ignore[index]


def test_optional_field_absent_from_describe_is_skipped(
    sync_env_factory: SyncEnvFactory, sync_org: Path, tmp_path: Path
) -> None:
    # An org without the external-id field on Task (not created, or hidden by field-level
    # security): describe lacks it and the Task sync goes on without it.
    org = tmp_path / "org"
    shutil.copytree(sync_org, org)
    path = org / "Task.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with path.open("w", newline="") as handle:
        keep = [k for k in rows[0] if k != "Salescoach_Id__c"]
        writer = csv.DictWriter(handle, keep, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    fields = json.loads((org / "fields.json").read_text())
    fields.pop("Task", None)
    (org / "fields.json").write_text(json.dumps(fields))
    env = sync_env_factory(org_dir=org)

    report = env.run(objects=["Task"])

    assert report.ok, report.first_error
    assert _result(report, "Task").inserted == len(rows)
    assert env.table_count("sf_task") == len(rows)


def _index_definitions(env: SyncEnv, table: str) -> set[str]:
    with env.engine.connect() as conn:
        return {
            str(r[0])
            for r in conn.exec_driver_sql(f"SELECT indexdef FROM pg_indexes WHERE tablename = '{table}'")
        }


def test_first_load_rebuilds_dropped_indexes_and_survives_broken_pages(
    sync_env_factory: SyncEnvFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first load into an empty table COPYs straight into it; a large one drops the secondary
    # indexes first and builds them at the end, in the same transaction.
    monkeypatch.setattr(engine_module, "INDEX_REBUILD_MIN_ROWS", 1)
    env = sync_env_factory(sync_bulk_page_records=100)
    indexes_before = _index_definitions(env, "sf_task")
    assert len(indexes_before) >= 4
    broken = _break_each_page_once(monkeypatch)

    report = env.run(objects=["Task", "Event"])

    assert report.ok, report.first_error
    assert len(broken) >= 3
    assert _result(report, "Task").inserted == len(csv_table(env.org_dir, "Task"))
    assert_matches_org(env, ["Task", "Event"])
    assert _index_definitions(env, "sf_task") == indexes_before


def test_a_direct_first_load_checks_the_csv_header_like_header_match() -> None:
    expected = ["Id", "Subject"]
    assert (
        b"".join(_checked_header([b"Id,Sub", b"ject\n", b'"1","a"\n'], expected)) == b'Id,Subject\n"1","a"\n'
    )
    with pytest.raises(SyncError, match="does not match"):
        list(_checked_header([b"Subject,Id\n1,a\n"], expected))


def test_objects_run_together_on_one_login_and_equal_the_org(
    sync_env_factory: SyncEnvFactory,
) -> None:
    # Every call slowed a little, so objects in flight together overlap in time for sure.
    env = sync_env_factory(faults="delay=0.05", sync_concurrency=3)
    tokens_before = env.emulator.stats()["handlers"].get("oauth_token", 0)

    with structlog.testing.capture_logs() as logs:
        report = env.run()

    assert report.ok, report.first_error
    assert [r.object_name for r in report.results] == list(FIELDS)  # reported in sync order
    events = [(e["event"], e.get("object")) for e in logs if e["event"].startswith("sync_object_")]
    starts = [name for kind, name in events if kind == "sync_object_started"]
    # Taken in sync order: the first three go first (their log lines may race each other).
    assert sorted(starts) == sorted(FIELDS)
    assert set(starts[:3]) == set(list(FIELDS)[:3])
    first_finish = next(i for i, (kind, _) in enumerate(events) if kind == "sync_object_finished")
    assert len([kind for kind, _ in events[:first_finish] if kind == "sync_object_started"]) == 3
    # One OAuth login served the three threads.
    assert env.emulator.stats()["handlers"]["oauth_token"] - tokens_before == 1
    assert report.seconds < sum(r.seconds for r in report.results)
    assert_matches_org(env)


def _describes(env: SyncEnv) -> int:
    return int(env.emulator.stats()["handlers"].get("describe", 0))


def test_describes_are_kept_an_hour_across_passes_and_processes(sync_env_factory: SyncEnvFactory) -> None:
    # Reads at least `overlap` old: the probes are trusted, and tell quiet objects from busy ones.
    sync_env = sync_env_factory(sync_overlap_seconds=1)
    # Each env.run() builds a new SyncEngine, as a new `sync run` process does.
    sync_env.run()
    described = _describes(sync_env)
    assert described == len(FIELDS)

    used = sync_env.emulator.stats()["apiUsage"]["used"]
    report = sync_env.run()

    assert report.ok, report.first_error
    assert _describes(sync_env) == described  # from sync_state, no API call
    assert sync_env.emulator.stats()["apiUsage"]["used"] > used  # the pass itself did call Salesforce

    time.sleep(1.1)
    assert sync_env.run().ok  # the last read now began after the newest record
    time.sleep(1.1)
    with sync_env.engine.begin() as conn:  # an hour and a minute later
        conn.execute(text("UPDATE sync_state SET described_at = described_at - interval '61 minutes'"))
    sf = sync_env.salesforce()
    event = sf.query("SELECT Id FROM Event WHERE IsDeleted = false ORDER BY Id LIMIT 1")["records"][0]["Id"]
    sf.Event.update(event, {"Subject": "Renewal call"})

    report = sync_env.run()

    assert report.ok, report.first_error
    assert _result(report, "Event").updated == 1
    # Event has a record to read, so describes anew; the five quiet objects need no field list.
    assert _describes(sync_env) == described + 1

    assert sync_env.run(full=True).ok  # --full describes anew
    assert _describes(sync_env) == described + 1 + len(FIELDS)


def test_a_cached_describe_missing_a_needed_field_is_replaced_not_reported(sync_env: SyncEnv) -> None:
    sync_env.run()
    # The describe saved before Amount was granted (say): it lacks the field the sync needs.
    with sync_env.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE sync_state SET described_fields = (SELECT jsonb_agg(f) FROM"
                " jsonb_array_elements(described_fields) AS f WHERE f->>'name' <> 'Amount')"
                " WHERE object_name = 'Opportunity'"
            )
        )
    described = _describes(sync_env)

    report = sync_env.run()

    assert report.ok, report.first_error
    assert _describes(sync_env) == described + 1  # Opportunity only, described again
    fields = sync_env.state("Opportunity")["described_fields"]  # type: ignore[index]
    assert "Amount" in {f["name"] for f in fields}


def test_an_access_error_drops_the_cached_describe(sync_env: SyncEnv) -> None:
    sync_env.run()
    assert sync_env.state("Opportunity")["described_fields"]  # type: ignore[index]
    wrong = sync_env.settings.model_copy(update={"sync_custom_fields": {"Opportunity": ["Nowhere__c"]}})

    report = run_once(wrong, sync_env.engine, objects=["Opportunity"])

    assert not report.ok
    assert "Nowhere__c" in (report.results[0].error or "")
    state = sync_env.state("Opportunity")
    assert state is not None
    assert state["described_fields"] is None
    assert state["described_at"] is None
