"""Sync fixtures: a small demo org with custom fields, a private emulator and a fresh database
per test (the sync commits, so the rolled-back `db_session` cannot be used), settings pointing
the sync at both, and the org's ground truth read independently of the sync's code.

Ground truth comes from the org's CSV files (before any change) or from REST queryAll through
a plain simple-salesforce client; the field lists and column names below are written out here
from docs/domain.md, not taken from salescoach_sync.objects, so a wrong spec fails the tests.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from sqlalchemy import Engine, create_engine, text

from salescoach_core.database.migrations import upgrade
from salescoach_core.settings import Settings
from salescoach_emulator import EmulatorHandle, generate_org, start_emulator
from salescoach_sync.report import SyncReport
from salescoach_sync.service import run_once
from tests.plugins.database import REPO_ROOT, create_database, drop_database

API_VERSION = "62.0"
CUSTOM_FIELDS = {"Opportunity": ["Region__c", "Score__c", "Strategic__c", "Renewal_Date__c"]}
_CUSTOM_DECLARATIONS = {
    "Region__c": {"type": "string", "label": "Region"},
    "Score__c": {"type": "double", "label": "Score"},
    "Strategic__c": {"type": "boolean", "label": "Strategic"},
    "Renewal_Date__c": {"type": "date", "label": "Renewal date"},
}

FIELDS: dict[str, list[str]] = {
    "User": ["Id", "Name", "Email", "IsActive", "ManagerId", "UserRoleId", "Title", "TimeZoneSidKey",
             "SystemModstamp"],
    "OpportunityStage": ["Id", "ApiName", "MasterLabel", "SortOrder", "IsActive", "IsClosed", "IsWon",
                         "DefaultProbability", "SystemModstamp"],
    "Opportunity": ["Id", "OwnerId", "Name", "AccountId", "Amount", "StageName", "IsClosed", "IsWon",
                    "CloseDate", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted",
                    "Probability", "ForecastCategoryName", "Type", "LeadSource"],
    "OpportunityHistory": ["Id", "OpportunityId", "StageName", "Amount", "CloseDate", "CreatedDate",
                           "SystemModstamp", "IsDeleted"],
    "Task": ["Id", "OwnerId", "WhatId", "WhoId", "Subject", "Status", "IsClosed", "ActivityDate",
             "TaskSubtype", "Type", "CallDurationInSeconds", "CompletedDateTime", "CreatedDate",
             "SystemModstamp", "IsDeleted", "IsArchived", "Salescoach_Id__c"],
    "Event": ["Id", "OwnerId", "WhatId", "WhoId", "Subject", "StartDateTime", "EndDateTime",
              "DurationInMinutes", "Type", "CreatedDate", "SystemModstamp", "IsDeleted", "IsArchived"],
}  # fmt: skip
TABLES = {
    "User": "sf_user",
    "OpportunityStage": "sf_opportunity_stage",
    "Opportunity": "sf_opportunity",
    "OpportunityHistory": "sf_opportunity_history",
    "Task": "sf_task",
    "Event": "sf_event",
}
HAS_DELETES = {"Opportunity", "OpportunityHistory", "Task", "Event"}

Row = dict[str, Any]
Table = dict[str, Row]


def column_of(api_name: str) -> str:
    if api_name == "Salescoach_Id__c":
        return "external_id"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", api_name).lower()


# ---------------------------------------------------------------------------- canonical values

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def canon(value: Any) -> Any:
    """One comparable form for a value from CSV, REST JSON or PostgreSQL."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(Decimal(str(value)).normalize())
    text_value = str(value)
    if _DATETIME.match(text_value):
        stamp = text_value.replace("Z", "+00:00")
        if re.search(r"[+-]\d{4}$", stamp):
            stamp = stamp[:-2] + ":" + stamp[-2:]
        return canon(datetime.fromisoformat(stamp))
    if _NUMBER.match(text_value):
        return str(Decimal(text_value).normalize())
    return text_value


def _canon_row(values: dict[str, Any], object_name: str) -> Row:
    row = {api: canon(values.get(api)) for api in FIELDS[object_name]}
    for custom in CUSTOM_FIELDS.get(object_name, []):
        row[custom] = canon(values.get(custom))
    return row


# ---------------------------------------------------------------------------- ground truth


def csv_table(org_dir: Path, object_name: str) -> Table:
    """The object as the org's export CSV holds it (the state before any change)."""
    with (org_dir / f"{object_name}.csv").open(newline="", encoding="utf-8") as handle:
        return {row["Id"]: _canon_row(row, object_name) for row in csv.DictReader(handle)}


def org_table(sf: Salesforce, object_name: str) -> Table:
    """The object as the org serves it now: queryAll (deleted and archived rows too) over REST."""
    fields = FIELDS[object_name] + CUSTOM_FIELDS.get(object_name, [])
    soql = f"SELECT {', '.join(fields)} FROM {object_name}"
    records = sf.query_all(soql, include_deleted=object_name in HAS_DELETES)["records"]
    return {str(r["Id"]): _canon_row(r, object_name) for r in records}


def db_table(engine: Engine, object_name: str) -> Table:
    """The synced table, in the same shape."""
    columns = {api: column_of(api) for api in FIELDS[object_name]}
    select = ", ".join(columns.values())
    has_custom = object_name in CUSTOM_FIELDS
    if has_custom:
        select += ", custom_fields"
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {select} FROM {TABLES[object_name]}")).mappings().all()
    table: Table = {}
    for row in rows:
        values = {api: row[column] for api, column in columns.items()}
        if has_custom:
            values.update(row["custom_fields"])
        table[str(row["id"])] = _canon_row(values, object_name)
    return table


def differences(expected: Table, actual: Table, *, limit: int = 8) -> list[str]:
    problems = [f"missing {i}" for i in sorted(expected.keys() - actual.keys())]
    problems += [f"unexpected {i}" for i in sorted(actual.keys() - expected.keys())]
    for record_id in sorted(expected.keys() & actual.keys()):
        for key, value in expected[record_id].items():
            if actual[record_id].get(key) != value:
                problems.append(f"{record_id}.{key}: expected {value!r}, got {actual[record_id].get(key)!r}")
    return problems[:limit]


def assert_matches_org(env: SyncEnv, objects: list[str] | None = None) -> None:
    for object_name in objects or list(FIELDS):
        # A client per object: some tests run the emulator with very short-lived tokens.
        expected = org_table(env.salesforce(), object_name)
        assert expected, f"the org has no {object_name} rows: the test would prove nothing"
        problems = differences(expected, db_table(env.engine, object_name))
        assert not problems, f"{object_name} differs from the org:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------------------- the org


def add_custom_fields(org_dir: Path) -> None:
    """Give Opportunities four custom fields (some values empty) and some Tasks an external id."""
    path = org_dir / "Opportunity.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    header = [*rows[0].keys(), *CUSTOM_FIELDS["Opportunity"]]
    regions = ["EMEA", "AMER", "APAC", ""]
    for index, row in enumerate(rows):
        row["Region__c"] = regions[index % 4]
        row["Score__c"] = "" if index % 5 == 0 else f"{(index * 37) % 100}.5"
        row["Strategic__c"] = "true" if index % 3 == 0 else "false"
        row["Renewal_Date__c"] = "" if index % 2 else f"2027-0{1 + index % 9}-1{index % 10}"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    path = org_dir / "Task.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        tasks = list(csv.DictReader(handle))
    for index, row in enumerate(tasks):
        if index % 7 == 0:
            row["Salescoach_Id__c"] = f"sc-{index:06d}"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(tasks[0].keys()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(tasks)

    fields_path = org_dir / "fields.json"
    declared = json.loads(fields_path.read_text()) if fields_path.exists() else {}
    declared.setdefault("Opportunity", {}).update(_CUSTOM_DECLARATIONS)
    fields_path.write_text(json.dumps(declared, indent=2))


@pytest.fixture(scope="session")
def sync_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo org (about 1,200 activities, some archived) with custom fields; never written to."""
    out = tmp_path_factory.mktemp("sync-org")
    generate_org(out, reps=4, managers=1, months=12, seed=11, activities_per_rep_week=6, end=date.today())
    add_custom_fields(out)
    return out


# ---------------------------------------------------------------------------- environments


@dataclass
class SyncEnv:
    """A private emulator, a fresh database and the settings that join them."""

    emulator: EmulatorHandle
    settings: Settings
    engine: Engine
    database_url: str
    org_dir: Path
    work_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def salesforce(self) -> Salesforce:
        """A plain simple-salesforce client (exact decimals), for changes and ground truth."""
        session = requests.Session()
        session.verify = self.emulator.ca_bundle
        session.trust_env = False  # else REQUESTS_CA_BUNDLE would override the emulator's CA
        return Salesforce(
            instance_url=self.emulator.instance_url,
            session_id=self.emulator.access_token(),
            session=session,
            version=API_VERSION,
            parse_float=Decimal,
        )

    def run(self, **options: Any) -> SyncReport:
        return run_once(self.settings, self.engine, **options)

    def process_env(self) -> dict[str, str]:
        """Environment for `salescoach sync` against this emulator and database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SALESCOACH_") and k != "DATABASE_URL"}
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "SALESCOACH_STATE_DIR": str(self.work_dir / "state"),
                "SALESCOACH_SF_LOGIN_URL": self.emulator.login_url,
                "SALESCOACH_SF_CLIENT_ID": self.emulator.client_id,
                "SALESCOACH_SF_CLIENT_SECRET": self.emulator.client_secret,
                "SALESCOACH_SF_CA_BUNDLE": self.emulator.ca_bundle,
                "SALESCOACH_SYNC_CUSTOM_FIELDS": json.dumps(CUSTOM_FIELDS),
                "SALESCOACH_LOG_FORMAT": "json",
                "PYTHONPATH": str(REPO_ROOT),
                **self.extra_env,
            }
        )
        return env

    def table_count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    def spawn(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """`salescoach sync ARGS` in a subprocess, stderr (JSON log lines) piped."""
        return subprocess.Popen(
            [sys.executable, "-m", "salescoach_cli", "sync", *args],
            env={**self.process_env(), **env},
            cwd=self.work_dir,  # no stray .env from the checkout
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def state(self, object_name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    text("SELECT * FROM sync_state WHERE object_name = :name"), {"name": object_name}
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None


SyncEnvFactory = Callable[..., SyncEnv]


def emulator_settings(emu: EmulatorHandle, url: str, work: Path, **options: Any) -> Settings:
    """Settings of a sync against `emu` into the database at `url` (overrides as keywords)."""
    return Settings(
        database_url=url,  # type: ignore[arg-type]
        state_dir=work / "state",
        sf_login_url=emu.login_url,
        sf_client_id=emu.client_id,
        sf_client_secret=emu.client_secret,  # type: ignore[arg-type]
        sf_ca_bundle=Path(emu.ca_bundle),
        **options,
    )


@pytest.fixture
def sync_env_factory(
    sync_org: Path, server_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SyncEnvFactory]:
    """Build SyncEnvs: emulator options (faults, token_ttl, daily_api_limit, org_dir) and
    settings overrides (any Settings field) as keywords; everything is torn down after the test."""
    with ExitStack() as stack:

        def build(org_dir: Path | None = None, **options: Any) -> SyncEnv:
            emulator_options = {
                k: options.pop(k) for k in ("faults", "token_ttl", "daily_api_limit") if k in options
            }
            work = tmp_path_factory.mktemp("sync")
            org = org_dir or sync_org
            emu = stack.enter_context(start_emulator(org, state_dir=work / "emulator", **emulator_options))
            url = create_database(server_engine, "salescoach_sync")
            stack.callback(drop_database, server_engine, url)
            engine = create_engine(url)
            stack.callback(engine.dispose)
            upgrade(engine)
            settings = emulator_settings(emu, url, work, sync_custom_fields=CUSTOM_FIELDS, **options)
            return SyncEnv(emu, settings, engine, url, org, work)

        yield build


@pytest.fixture
def sync_env(sync_env_factory: SyncEnvFactory) -> SyncEnv:
    return sync_env_factory()


def log_events(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON log lines of a sync process, parsed (other output skipped)."""
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events


def read_until(process: subprocess.Popen[str], predicate: Callable[[dict[str, Any]], bool]) -> list[str]:
    """Read the process's stderr line by line until an event matches; returns the lines read."""
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        events = log_events([line])
        if events and predicate(events[0]):
            return seen
    raise AssertionError("the process ended before the awaited log event:\n" + "".join(seen[-30:]))
