"""Emulator speed on a 1M-Task org: generate, cold and warm start, Bulk 2.0 download rate
and the server's peak memory, measured with the real simple-salesforce client against the
``serve`` subprocess (its own process, so its RSS and CPU are its own).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import pytest

from salescoach_emulator import generate_org, spawn_emulator
from tests.bench.report import write_report
from tests.plugins.emulator import salesforce_client

TASKS_PER_REP_WEEK = 420
REPS = 48  # 48 reps x ~52 weeks x ~400 x skill factor ~= 1M Tasks


class _PeakRss:
    """Samples a process's RSS every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.bench
def test_emulator_serves_a_million_tasks(tmp_path: Path) -> None:
    org = tmp_path / "org"
    state = tmp_path / "state"
    generated = generate_org(
        org, reps=REPS, managers=4, months=12, seed=1, activities_per_rep_week=TASKS_PER_REP_WEEK
    )
    tasks = generated.counts["Task"]
    rows: list[dict[str, object]] = [
        {"measure": "generate org", "rows": sum(generated.counts.values()), "seconds": generated.seconds}
    ]
    for label in ("start (cold import)", "start (cached)"):
        started = time.perf_counter()
        with spawn_emulator(org, state_dir=state) as (emu, process):
            start_seconds = time.perf_counter() - started
            rss_start = psutil.Process(process.pid).memory_info().rss
            rows.append({"measure": label, "rows": sum(generated.counts.values()), "seconds": start_seconds,
                         "peak_rss_mb": rss_start / 2**20})  # fmt: skip
            if label == "start (cold import)":
                continue
            sf = salesforce_client(emu)
            soql = (
                "SELECT Id, OwnerId, WhatId, WhoId, Subject, Status, IsClosed, ActivityDate, TaskSubtype,"
                " Type, CallDurationInSeconds, CompletedDateTime, CreatedDate, SystemModstamp, IsDeleted,"
                " IsArchived FROM Task"
            )
            with _PeakRss(process.pid) as peak:
                started = time.perf_counter()
                received = 0
                for chunk in sf.bulk2.Task.query_all(soql, max_records=200_000, wait=0):
                    received += chunk.count("\n") - 1
                seconds = time.perf_counter() - started
            assert received == tasks
            rows.append({"measure": "bulk 2.0 queryAll, 16 fields (simple-salesforce)", "rows": received,
                         "seconds": seconds, "rows_per_s": received / seconds,
                         "peak_rss_mb": peak.peak / 2**20})  # fmt: skip
    write_report("emulator", f"Emulator on {tasks:,} Tasks", rows)
