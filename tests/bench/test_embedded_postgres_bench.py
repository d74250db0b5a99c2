"""Embedded PostgreSQL: cold start (initdb + start) and warm start (existing data directory)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bench.report import write_report

START_AND_EXIT = """
import sys
from pathlib import Path
from salescoach_core.database.embedded import start_embedded_server
from salescoach_core.logging import configure_logging
configure_logging("WARNING")
start_embedded_server(Path(sys.argv[1]), "salescoach")
"""


def _timed_start(state_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", START_AND_EXIT, str(state_dir)], check=True, timeout=120)
    return time.perf_counter() - started


@pytest.mark.bench
def test_embedded_postgres_start_times(tmp_path: Path) -> None:
    baseline_started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import salescoach_core.database.embedded"], check=True)
    interpreter = time.perf_counter() - baseline_started

    cold = [_timed_start(tmp_path / f"cold{i}") for i in range(3)]
    warm = [_timed_start(tmp_path / "cold0") for _ in range(5)]
    rows = [
        {"case": "python + imports only", "median_s": interpreter, "runs": 1},
        {"case": "cold: initdb + start + create db + stop", "median_s": statistics.median(cold), "runs": 3},
        {"case": "warm: start + stop", "median_s": statistics.median(warm), "runs": 5},
    ]
    write_report("embedded_postgres", "Embedded PostgreSQL start (process wall time)", rows)
    assert statistics.median(cold) > statistics.median(warm)
