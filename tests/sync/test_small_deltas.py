"""The incremental pass's cheap paths against the emulator over HTTPS: a small delta read over
REST (its JSON pages merged by PostgreSQL) gives the same rows as the Bulk path, deletes and
nulls included; objects with nothing to do settle in one transaction, under their locks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from salescoach_core.database.migrations import upgrade
from salescoach_emulator import generate_org
from salescoach_emulator.auth import ORG_ID
from salescoach_sync.report import SyncReport
from salescoach_sync.service import run_once
from tests.plugins.database import create_database, drop_database
from tests.plugins.sync import (
    FIELDS,
    SyncEnv,
    SyncEnvFactory,
    add_custom_fields,
    assert_matches_org,
    db_table,
)


def _result(report: SyncReport, object_name: str) -> object:
    return next(r for r in report.results if r.object_name == object_name)


@pytest.fixture
def bulk_engine(server_engine: Engine) -> Iterator[tuple[str, Engine]]:
    """A second database, synced from the same emulator through the Bulk path only."""
    url = create_database(server_engine, "salescoach_bulk")
    engine = create_engine(url)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database(server_engine, url)


def _change_the_org(env: SyncEnv) -> dict[str, str]:
    """Updates (values, nulls, an empty string, custom fields), a create, deletes."""
    sf = env.salesforce()
    opportunities = sf.query(
        "SELECT Id FROM Opportunity WHERE IsDeleted = false AND LeadSource != null ORDER BY Id LIMIT 3"
    )["records"]
    first, second, third = (o["Id"] for o in opportunities)
    sf.Opportunity.update(first, {"Amount": 98765.43, "LeadSource": None, "Region__c": "LATAM"})
    sf.Opportunity.update(second, {"Score__c": None, "Strategic__c": True, "Renewal_Date__c": "2028-02-29"})
    sf.Opportunity.delete(third)
    owner = sf.query("SELECT OwnerId FROM Opportunity LIMIT 1")["records"][0]["OwnerId"]
    created = sf.Task.create(
        {"OwnerId": owner, "Subject": "Call", "Status": "Completed", "ActivityDate": date.today().isoformat(),
         "TaskSubtype": "Call", "Salescoach_Id__c": "sc-small-1"}
    )["id"]  # fmt: skip
    tasks = sf.query("SELECT Id FROM Task WHERE IsDeleted = false ORDER BY Id LIMIT 3")["records"]
    sf.Task.update(tasks[0]["Id"], {"Subject": "", "CallDurationInSeconds": None})
    sf.Task.delete(tasks[1]["Id"])
    sf.Task.delete(tasks[2]["Id"])
    event = sf.query("SELECT Id FROM Event WHERE IsDeleted = false ORDER BY Id LIMIT 1")["records"][0]["Id"]
    sf.Event.update(event, {"Subject": 'Quarterly business review, "QBR"\nsecond line'})
    return {"first": first, "created": created, "blanked": tasks[0]["Id"], "event": event}


def test_a_small_delta_over_rest_gives_the_rows_the_bulk_path_gives(
    sync_env: SyncEnv, bulk_engine: tuple[str, Engine]
) -> None:
    bulk_url, bulk_db = bulk_engine
    bulk_settings = sync_env.settings.model_copy(update={"database_url": bulk_url, "sync_rest_threshold": 0})
    assert sync_env.run().ok
    assert run_once(bulk_settings, bulk_db).ok
    ids = _change_the_org(sync_env)

    jobs = sync_env.emulator.stats()["handlers"].get("bulk_jobs", 0)
    rest = sync_env.run()
    rest_jobs = sync_env.emulator.stats()["handlers"].get("bulk_jobs", 0) - jobs
    bulk = run_once(bulk_settings, bulk_db)
    bulk_jobs = sync_env.emulator.stats()["handlers"].get("bulk_jobs", 0) - jobs - rest_jobs

    assert rest.ok, rest.first_error
    assert bulk.ok, bulk.first_error
    assert rest_jobs == 0  # every delta was read over REST
    # Each changed object's delta through a Bulk job (the Opportunity's delete takes its history).
    assert bulk_jobs == len([r for r in bulk.results if r.rows_read]) >= 3
    for object_name in FIELDS:
        by_rest, by_bulk = _result(rest, object_name), _result(bulk, object_name)
        counts = [(r.inserted, r.updated, r.deleted) for r in (by_rest, by_bulk)]  # type: ignore[attr-defined]
        assert counts[0] == counts[1], object_name
    assert (_result(rest, "Task").inserted, _result(rest, "Task").deleted) == (1, 2)  # type: ignore[attr-defined]
    assert _result(rest, "Opportunity").deleted == 1  # type: ignore[attr-defined]
    for object_name in FIELDS:
        assert db_table(sync_env.engine, object_name) == db_table(bulk_db, object_name), object_name
    assert_matches_org(sync_env)
    tasks = db_table(sync_env.engine, "Task")
    assert tasks[ids["created"]]["Salescoach_Id__c"] == "sc-small-1"
    assert (tasks[ids["blanked"]]["Subject"], tasks[ids["blanked"]]["CallDurationInSeconds"]) == (None, None)
    opportunity = db_table(sync_env.engine, "Opportunity")[ids["first"]]
    assert (opportunity["Amount"], opportunity["LeadSource"], opportunity["Region__c"]) == (
        "98765.43",
        None,
        "LATAM",
    )
    event = db_table(sync_env.engine, "Event")[ids["event"]]
    assert event["Subject"] == 'Quarterly business review, "QBR"\nsecond line'


def test_a_rest_delta_of_several_pages_is_merged_page_by_page(
    sync_env_factory: SyncEnvFactory, tmp_path: Path
) -> None:
    # More Tasks than one REST page holds (2,000), fewer than the REST threshold (10,000).
    generate_org(
        tmp_path, reps=3, managers=1, months=12, seed=5, activities_per_rep_week=20, end=date.today()
    )
    add_custom_fields(tmp_path)
    env = sync_env_factory(org_dir=tmp_path)
    assert env.run().ok
    with env.engine.begin() as conn:  # forget Task's rows and its checkpoint: its window is all of it
        conn.execute(text("DELETE FROM sf_task"))
        conn.execute(text("UPDATE sync_state SET high_water_mark = '2000-01-01', window_read_at = NULL"
                          " WHERE object_name = 'Task'"))  # fmt: skip
    handlers = env.emulator.stats()["handlers"]

    report = env.run(objects=["Task"])

    assert report.ok, report.first_error
    after = env.emulator.stats()["handlers"]
    assert after.get("query_more", 0) > handlers.get("query_more", 0)  # more than one REST page
    assert after.get("bulk_jobs", 0) == handlers.get("bulk_jobs", 0)
    assert_matches_org(env, ["Task"])


def _quiet_env(sync_env_factory: SyncEnvFactory) -> SyncEnv:
    """Reads at least `overlap` old, so the probes are trusted and find nothing."""
    env = sync_env_factory(sync_overlap_seconds=1)
    assert env.run().ok
    time.sleep(1.1)
    assert env.run().ok
    time.sleep(1.1)
    return env


def test_quiet_objects_settle_in_one_transaction_and_respect_a_lock_held_elsewhere(
    sync_env_factory: SyncEnvFactory,
) -> None:
    env = _quiet_env(sync_env_factory)
    task_before = env.state("Task")

    with env.engine.connect() as other:  # another worker holds Task
        other.execute(text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"),
                      {"key": f"salescoach.sync:{ORG_ID}:Task"})  # fmt: skip
        report = env.run()
        other.execute(text("SELECT pg_advisory_unlock_all()"))
        other.commit()

    assert report.ok, report.first_error
    assert {r.object_name: r.status for r in report.results} == {
        "User": "ok", "OpportunityStage": "ok", "Opportunity": "ok", "OpportunityHistory": "ok",
        "Task": "skipped", "Event": "ok",
    }  # fmt: skip
    assert env.state("Task") == task_before
    # The five others moved their checkpoint: their last read is now this pass's probe.
    assert env.state("Event")["window_read_at"] > task_before["window_read_at"]  # type: ignore[index,operator]


def test_a_change_after_a_quiet_spell_reads_only_what_is_new(sync_env_factory: SyncEnvFactory) -> None:
    # A trusted probe counted the records stamped since P (the last read's start less the
    # overlap): those are exactly the new ones, so the read starts there, not at the high-water
    # mark less the overlap, which would read the tail of the previous change once more.
    env = _quiet_env(sync_env_factory)
    sf = env.salesforce()
    events = [
        r["Id"]
        for r in sf.query("SELECT Id FROM Event WHERE IsDeleted = false ORDER BY Id LIMIT 5")["records"]
    ]
    for event in events[:3]:
        sf.Event.update(event, {"Subject": "Earlier change"})
    assert _result(env.run(), "Event").updated == 3  # type: ignore[attr-defined]
    # The passes of the overlap read that change's window again until a read began `overlap`
    # (to the second) after its newest record; then the probes are trusted and read nothing.
    for _ in range(5):
        time.sleep(1.1)
        if sum(r.rows_read for r in env.run().results) == 0:
            break
    else:
        pytest.fail("the passes after the change never became quiet")
    for event in events[3:]:
        sf.Event.update(event, {"Subject": "Later change"})

    report = env.run()

    event_result = _result(report, "Event")
    assert (event_result.rows_read, event_result.updated) == (2, 2)  # type: ignore[attr-defined]
    assert_matches_org(env, ["Event"])
