"""Sync speed on generated orgs of about 100k and 1M activity rows (Task + Event, with users,
opportunities and history in proportion), served by the emulator in its own process.

Per org:
- full sync: `salescoach sync run --full` in a subprocess on a fresh database; wall
  time, the pass's own time (its `sync_pass_finished` line: no interpreter start, imports or
  login), rows/s over every synced row, and the process's peak RSS (its VmHWM, polled:
  tests/bench/memory.py says why not os.wait4's ru_maxrss);
- naive baseline, written here: simple-salesforce `query_all_iter` + one ORM insert (flush)
  per row. On the 1M org it runs on a timed sample of Task rows and is extrapolated
  linearly to all rows (the `naive_sampled` column says so);
- raw limit: tests/bench/raw_limit.py, as a child process measured like the sync: each
  object's Bulk 2.0 CSV fetched with the same client and COPY-ed into an unindexed all-text
  table, no staging, no merge; its wall time and its own time (first call to last commit);
- incremental: after 1% of the activity rows changed and 0.1% deleted (REST sObject
  collections), `salescoach sync run` in a subprocess;
- worker: the same change synced by a long-lived SyncEngine in this process, on its own
  database, as `sync worker` runs: its first pass (full) before the change, its next pass
  (incremental) after it, each timed with the refresh hooks that follow it.

The raw limit and the full sync alternate, ROUNDS times each on the same org (the incremental
follows the last full sync); the table compares the best of each (both `*_runs` columns list
every run), since the machine's speed drifts within minutes.

Not a timed test: it prints a table and writes bench-results/sync.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from salescoach_core.database.migrations import upgrade
from salescoach_core.models import (
    SfEvent,
    SfOpportunity,
    SfOpportunityHistory,
    SfOpportunityStage,
    SfTask,
    SfUser,
)
from salescoach_emulator import EmulatorHandle, generate_org, spawn_emulator
from salescoach_emulator.generate import GenerateResult
from salescoach_sync.coaching_hooks import install_coaching_hooks
from salescoach_sync.engine import SyncEngine
from salescoach_sync.report import SyncReport
from tests.bench.memory import PeakRss
from tests.bench.raw_limit import FIELDS, QUERY_ALL
from tests.bench.report import write_report
from tests.plugins.database import REPO_ROOT, create_database, drop_database
from tests.plugins.sync import emulator_settings, log_events

# (label, reps, activities per rep-week): Task + Event rows come out near the label.
# BENCH_SYNC_ORGS=100k (labels, comma-separated) runs only those.
ORGS = tuple(
    org
    for org in (("100k", 5, 375), ("1M", 50, 375))
    if org[0] in os.environ.get("BENCH_SYNC_ORGS", "100k,1M").split(",")
)
PASSES_PER_DAY = 24 * 3600 // 60  # the default 60 s interval
QUIET_PASSES = 3
NAIVE_SAMPLE_ROWS = 30_000
ROUNDS = 2
_MODELS: dict[str, type[Any]] = {
    "User": SfUser,
    "OpportunityStage": SfOpportunityStage,
    "Opportunity": SfOpportunity,
    "OpportunityHistory": SfOpportunityHistory,
    "Task": SfTask,
    "Event": SfEvent,
}
OBJECTS: dict[str, tuple[type[Any], list[str]]] = {
    name: (_MODELS[name], fields.split()) for name, fields in FIELDS.items()
}


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def _run_child(
    emu: EmulatorHandle, url: str, work: Path, module: str, *args: str, **settings: str
) -> Measured:
    """`python -m MODULE ARGS` as a child configured like a deployment of the sync (environment
    variables only); its wall time from exec to exit and its own peak RSS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESCOACH_") and k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=url,
        SALESCOACH_STATE_DIR=str(work / "state"),
        SALESCOACH_SF_LOGIN_URL=emu.login_url,
        SALESCOACH_SF_CLIENT_ID=emu.client_id,
        SALESCOACH_SF_CLIENT_SECRET=emu.client_secret,
        SALESCOACH_SF_CA_BUNDLE=emu.ca_bundle,
        SALESCOACH_LOG_FORMAT="json",
        PYTHONPATH=str(REPO_ROOT),
        **settings,
    )
    out_path = work / f"{module}.out"
    with out_path.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=env,
            cwd=work,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        with PeakRss(process.pid) as peak:  # until the child closes stderr, exiting: not reaped
            stderr = process.stderr.read()
        _, status = os.waitpid(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, stderr[-3000:]
    return Measured(seconds, peak.mb, out_path.read_text(), stderr)


class _Worker:
    """Passes of one long-lived SyncEngine in this process, as `sync worker` (run_worker) makes
    them: describes, login and pooled connections carry over from pass to pass."""

    def __init__(self, emu: EmulatorHandle, url: str, engine: Engine, work: Path, **options: Any) -> None:
        settings = emulator_settings(emu, url, work, **options)
        install_coaching_hooks(settings)
        self._sync = SyncEngine(settings, engine)

    def run_pass(self) -> tuple[float, SyncReport]:
        """One pass, timed as the worker spends it (the refresh hooks after it included)."""
        started = time.perf_counter()
        report = self._sync.run()
        seconds = time.perf_counter() - started
        assert report.ok, report.first_error
        return seconds, report

    def close(self) -> None:
        self._sync.close()


def _calls(emu: EmulatorHandle, worker: _Worker) -> int:
    """API calls of the worker's next pass, by the emulator's count (Sforce-Limit-Info)."""
    before = emu.stats()["apiUsage"]["used"]
    worker.run_pass()
    return int(emu.stats()["apiUsage"]["used"]) - int(before)


def _api_budget(
    emu: EmulatorHandle, url: str, engine: Engine, work: Path, counts: dict[str, int]
) -> dict[str, Any]:
    """API calls of a worker on the synced database, counted by the emulator: a quiet pass, a
    pass after 1% of the activities changed, and the daily id reconciliation; projected to a
    day of passes at the default 60 s interval. The worker's overlap is 2 s (default 120 s) so
    its probes are trusted within seconds: a quiet pass then costs what it costs in steady state.
    """
    worker = _Worker(emu, url, engine, work, sync_overlap_seconds=2)
    for _ in range(2):  # read the windows once more, until the last read began after the newest record
        time.sleep(2.5)
        worker.run_pass()
    quiet = [_calls(emu, worker) for _ in range(QUIET_PASSES)]
    _change_activities(emu, counts)
    changed = _calls(emu, worker)
    time.sleep(2.5)
    reread = _calls(emu, worker)  # the changed objects' window, read once more (a pass of the overlap)
    time.sleep(2.5)
    with engine.begin() as conn:  # a day later for the id reconciliation
        conn.exec_driver_sql(
            "UPDATE sync_state SET last_reconciled_at = last_reconciled_at - interval '25 hours'"
        )
    reconcile = _calls(emu, worker) - min(quiet)
    worker.close()
    per_quiet_pass = max(quiet)
    # A change re-read by the passes of the default overlap (120 s / 60 s = 2 more passes).
    change_extra = (changed - per_quiet_pass) + 2 * (reread - per_quiet_pass)
    return {
        "calls_quiet_pass": per_quiet_pass,
        "calls_changed_pass": changed,
        "calls_reread_pass": reread,
        "calls_reconcile": reconcile,
        "calls_per_day_quiet": per_quiet_pass * PASSES_PER_DAY + reconcile,
        # 1% of the activities changed every hour: each change read three times (the pass that
        # finds it, then two passes of the overlap, measured as calls_reread_pass), and the two
        # busy objects (Task, Event) described anew each hour.
        "calls_per_day_hourly_1pct": per_quiet_pass * PASSES_PER_DAY + reconcile + 24 * (change_extra + 2),
    }


def _run_sync(emu: EmulatorHandle, url: str, work: Path, *args: str, **settings: str) -> Measured:
    return _run_child(emu, url, work, "salescoach_cli", "sync", "run", *args, **settings)


def _events(stderr: str, name: str) -> list[dict[str, Any]]:
    return [event for event in log_events(stderr.splitlines()) if event["event"] == name]


def _object_results(stderr: str) -> dict[str, dict[str, Any]]:
    return {event["object"]: event for event in _events(stderr, "sync_object_finished")}


def _pass_seconds(stderr: str) -> float:
    """The pass's own elapsed time (objects overlap, so not the sum of theirs)."""
    (finished,) = _events(stderr, "sync_pass_finished")
    return float(finished["seconds"])


@contextmanager
def _fresh_database(
    server_engine: Engine, prefix: str = "salescoach_bench", *, keep: bool = False
) -> Iterator[tuple[str, Engine]]:
    """A migrated database, dropped on exit unless `keep` (to look into it afterwards)."""
    url = create_database(server_engine, prefix)
    engine = create_engine(url)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        if not keep:
            drop_database(server_engine, url)


def _salesforce(emu: EmulatorHandle) -> Salesforce:
    session = requests.Session()
    session.verify = emu.ca_bundle
    session.trust_env = False
    return Salesforce(
        instance_url=emu.instance_url,
        session_id=emu.access_token(),
        session=session,
        version="62.0",
        parse_float=Decimal,
    )


def _column(api_name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(api_name))


def _naive(emu: EmulatorHandle, engine: Engine, *, sample: int | None) -> tuple[float, int]:
    """query_all + one ORM insert per row; returns (seconds, rows). With `sample`, Task only,
    stopping after that many rows."""
    sf = _salesforce(emu)
    started = time.perf_counter()
    rows = 0
    objects = ["Task"] if sample else list(OBJECTS)
    with Session(engine) as session:
        for object_name in objects:
            model, fields = OBJECTS[object_name]
            soql = f"SELECT {', '.join(fields)} FROM {object_name}"
            for record in sf.query_all_iter(soql, include_deleted=object_name in QUERY_ALL):
                values = {_column(f): record[f] for f in fields}
                values = {k: _python_value(v) for k, v in values.items()}
                session.add(model(**values))
                session.flush()  # one INSERT per row, as naive sync code does
                rows += 1
                if sample and rows >= sample:
                    break
        session.commit()
    return time.perf_counter() - started, rows


def _python_value(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 28 and value[10] == "T" and value.endswith("+0000"):
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return date.fromisoformat(value)
    return value


def _raw_limit(emu: EmulatorHandle, url: str, work: Path) -> tuple[Measured, float, int]:
    """tests/bench/raw_limit.py as a child: (its process figures, its own seconds, rows)."""
    measured = _run_child(emu, url, work, "tests.bench.raw_limit")
    result = json.loads(measured.stdout.strip().splitlines()[-1])
    return measured, float(result["seconds"]), int(result["rows"])


def _change_activities(emu: EmulatorHandle, counts: dict[str, int]) -> tuple[int, int]:
    """Update 1% and delete 0.1% of Task + Event rows through sObject collections."""
    sf = _salesforce(emu)
    rng = random.Random(5)
    changed = deleted = 0
    for object_name in ("Task", "Event"):
        ids = [r["Id"] for r in sf.query_all_iter(f"SELECT Id FROM {object_name} WHERE IsDeleted = false")]
        rng.shuffle(ids)
        n_change, n_delete = counts[object_name] // 100, counts[object_name] // 1000
        for start in range(0, n_change, 200):
            batch = ids[start : min(start + 200, n_change)]
            records = [{"attributes": {"type": object_name}, "Id": i, "Subject": "Changed for the bench"}
                       for i in batch]  # fmt: skip
            sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": records})
            changed += len(batch)
        doomed = ids[n_change : n_change + n_delete]
        for start in range(0, len(doomed), 200):
            batch = doomed[start : start + 200]
            sf.restful(
                "composite/sobjects", method="DELETE", params={"ids": ",".join(batch), "allOrNone": "true"}
            )
            deleted += len(batch)
    return changed, deleted


def _generate(work: Path, reps: int, per_week: int) -> GenerateResult:
    """The org of an ORGS row, generated into `work`/org (12 months up to today)."""
    return generate_org(
        work / "org", reps=reps, managers=max(1, reps // 12), months=12, seed=3,
        activities_per_rep_week=per_week, end=date.today(),
    )  # fmt: skip


@pytest.mark.bench
def test_sync_speed_against_naive_and_raw(tmp_path: Path, server_engine: Engine) -> None:
    rows_out: list[dict[str, Any]] = []
    for label, reps, per_week in ORGS:
        work = tmp_path / label
        generated = _generate(work, reps, per_week)
        counts = generated.counts
        synced_rows = sum(counts[o] for o in OBJECTS)
        activities = counts["Task"] + counts["Event"]
        with spawn_emulator(work / "org", state_dir=work / "emulator") as (emu, _):
            # The machine's speed drifts by up to 1.4x within minutes: the raw limit and the full
            # sync alternate, ROUNDS times each on the same org, and the best of each is compared.
            raws: list[tuple[Measured, float]] = []
            fulls: list[Measured] = []
            for last_round in [False] * (ROUNDS - 1) + [True]:
                with _fresh_database(server_engine) as (url, _engine):
                    raw, raw_own, raw_rows = _raw_limit(emu, url, work)
                    assert raw_rows == synced_rows
                    raws.append((raw, raw_own))
                with _fresh_database(server_engine) as (url, _engine):
                    fulls.append(_run_sync(emu, url, work, "--full"))
                    full_objects = _object_results(fulls[-1].stderr)
                    assert sum(r["rows_read"] for r in full_objects.values()) == synced_rows
                    if last_round:
                        # A worker on its own database: its first pass (full) before the
                        # change, its next (incremental) after it, as `sync worker` runs them.
                        with _fresh_database(server_engine) as (worker_url, worker_engine):
                            worker = _Worker(emu, worker_url, worker_engine, work)
                            worker_full_s, _ = worker.run_pass()
                            changed, deleted = _change_activities(emu, counts)
                            incremental = _run_sync(emu, url, work)
                            worker_incr_s, worker_report = worker.run_pass()
                            worker.close()
                            budget = _api_budget(emu, worker_url, worker_engine, work, counts)
                        inc_objects = list(_object_results(incremental.stderr).values())
                        assert sum(r["updated"] for r in inc_objects) == changed
                        assert sum(r["deleted"] for r in inc_objects) == deleted
                        assert sum(r.updated for r in worker_report.results) == changed
                        assert sum(r.deleted for r in worker_report.results) == deleted

            with _fresh_database(server_engine) as (url, engine):
                sampled = label != "100k"
                naive_seconds, naive_rows = _naive(emu, engine, sample=NAIVE_SAMPLE_ROWS if sampled else None)
                naive_rate = naive_rows / naive_seconds
                naive_full_seconds = synced_rows / naive_rate if sampled else naive_seconds

        full = min(fulls, key=lambda m: m.seconds)
        full_sync_seconds = min(_pass_seconds(m.stderr) for m in fulls)
        raw = min((r for r, _ in raws), key=lambda m: m.seconds)
        raw_seconds = min(own for _, own in raws)
        inc_sync_seconds = _pass_seconds(incremental.stderr)
        rows_out.append(
            {
                "org": label,
                "activity_rows": activities,
                "rows_synced": synced_rows,
                "full_wall_s": full.seconds,
                "full_sync_s": full_sync_seconds,
                "full_rows_per_s": synced_rows / full.seconds,
                "full_peak_rss_mb": full.peak_rss_mb,
                "naive_s": naive_full_seconds,
                "naive_sampled": f"{naive_rows:,} Task rows" if sampled else "no (all rows)",
                "x_naive": naive_full_seconds / full.seconds,
                "full_wall_runs": " / ".join(f"{m.seconds:.2f}" for m in fulls),
                "raw_wall_runs": " / ".join(f"{r.seconds:.2f}" for r, _ in raws),
                "raw_wall_s": raw.seconds,
                "raw_own_s": raw_seconds,
                # Both as processes, from exec to exit (each pays its interpreter and imports).
                "pct_of_raw": 100 * raw.seconds / full.seconds,
                # Both without start-up: the pass's own time against the raw load's.
                "pct_of_raw_own": 100 * raw_seconds / full_sync_seconds,
                "incr_changed": changed,
                "incr_deleted": deleted,
                "incr_wall_s": incremental.seconds,
                "incr_sync_s": inc_sync_seconds,
                "incr_pct_of_full": 100 * incremental.seconds / full.seconds,
                # The same ratio for the sync's own time (what a long-running worker pays per pass:
                # no interpreter start, imports or login), reported beside the wall-time one.
                "incr_sync_pct_of_full_sync": 100 * inc_sync_seconds / full_sync_seconds,
                "incr_peak_rss_mb": incremental.peak_rss_mb,
                "worker_full_pass_s": worker_full_s,
                "worker_incr_pass_s": worker_incr_s,
                # A running worker's incremental pass against its own first (full) pass: the
                # steady state of `sync worker`. Neither pays interpreter start or imports; the
                # full pass pays the login and six describes, as a worker's first pass does.
                "worker_incr_pct_of_full": 100 * worker_incr_s / worker_full_s,
                **budget,
                "load_average": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    write_report("sync", "Sync: full, naive baseline, raw limit, incremental (2-core machine)", rows_out)
    if len(rows_out) == 2:
        small, large = rows_out
        print(f"peak RSS 1M / 100k: {large['full_peak_rss_mb'] / small['full_peak_rss_mb']:.2f}")


RATIO_SAMPLES = {"100k": 7, "1M": 3}


@pytest.mark.bench
def test_worker_incremental_ratio_over_samples(tmp_path: Path, server_engine: Engine) -> None:
    """The worker's incremental pass against its own full pass, sampled: per sample a fresh
    emulator on the same generated org and a fresh database (so each incremental window holds
    only its own change: 1% of the activities updated, 0.1% deleted), the full pass, the
    change, the incremental pass. The machine's speed drifts within minutes, so one sample (as
    in the table above) can land anywhere in a spread of about 2x; min / median / max say where."""
    rows_out: list[dict[str, Any]] = []
    for label, reps, per_week in ORGS:
        work = tmp_path / label
        generated = _generate(work, reps, per_week)
        fulls: list[float] = []
        incrementals: list[float] = []
        for sample in range(RATIO_SAMPLES[label]):
            with (
                spawn_emulator(work / "org", state_dir=work / f"emulator-{sample}") as (emu, _),
                _fresh_database(server_engine) as (url, engine),
            ):
                worker = _Worker(emu, url, engine, work)
                full_s, _ = worker.run_pass()
                changed, deleted = _change_activities(emu, generated.counts)
                incremental_s, report = worker.run_pass()
                worker.close()
            assert sum(r.updated for r in report.results) == changed
            assert sum(r.deleted for r in report.results) == deleted
            fulls.append(full_s)
            incrementals.append(incremental_s)
        runs = [100 * i / f for i, f in zip(incrementals, fulls, strict=True)]
        rows_out.append(
            {
                "org": label,
                "samples": len(runs),
                "incr_pct_min": min(runs),
                "incr_pct_median": statistics.median(runs),
                "incr_pct_max": max(runs),
                "full_pass_s_median": statistics.median(fulls),
                "incr_pass_s_median": statistics.median(incrementals),
                "incr_pct_runs": " / ".join(f"{r:.1f}" for r in runs),
                "load_average": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    write_report("sync_ratio", "Worker incremental pass / full pass, sampled (2-core machine)", rows_out)
