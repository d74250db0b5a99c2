"""`salescoach` start-up: `--help`, `apikey create` and `sync run` up to its first Salesforce call.

Each command runs RUNS times as a child process configured by environment variables only, the
commands taking turns so that a change in the machine's load touches them alike; the table gives
the median wall time (exec to exit; for `sync run`, exec to the first TCP connection to its
Salesforce login URL, a socket this test listens on and the child is killed at) and the median
CPU time (user + sys of the child, os.wait4), which a shared, loaded machine inflates less than
the wall time. The first row, the bare interpreter (`python -c pass`), shows how loaded the
machine was: compare each command's CPU time with it, and before/after in one run. The targets
are for an idle 2-core machine. A second table lists, per command, the packages whose imports
cost most (`python -X importtime`, self time summed per top-level package; for `sync run`, the
imports up to its first Salesforce call).

Before/after in one run: SALESCOACH_BENCH_BASELINE_PYTHON names the interpreter of another
checkout's environment (e.g. main's `.venv/bin/python`); its commands join the turns, marked
(baseline), against the same database.

Not a timed test: it prints the tables and writes bench-results/cli.json and cli_imports.json.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from tests.bench.report import write_report
from tests.cli.startup import command_env, free_port

RUNS = 7
TOP_IMPORTS = 8


def _run_to_exit(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, args
    return wall, usage.ru_utime + usage.ru_stime


def _run_to_first_call(
    args: list[str], env: dict[str, str], cwd: Path, stderr: IO[str] | int = subprocess.DEVNULL
) -> tuple[float, float]:
    """Exec to the child's first connection to SALESCOACH_SF_LOGIN_URL; the child is then killed."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(120)
        port = listener.getsockname()[1]
        started = time.perf_counter()
        process = subprocess.Popen(
            args,
            env={**env, "SALESCOACH_SF_LOGIN_URL": f"https://127.0.0.1:{port}"},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        connection, _ = listener.accept()
        wall = time.perf_counter() - started
        connection.close()
    process.kill()
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = -9
    return wall, usage.ru_utime + usage.ru_stime


def _import_costs(
    args: list[str], env: dict[str, str], cwd: Path, *, to_first_call: bool
) -> list[tuple[str, float]]:
    """Self import time per top-level package, in seconds, most first."""
    importtime = [sys.executable, "-X", "importtime", *args[1:]]
    if to_first_call:
        with tempfile.TemporaryFile("w+") as stderr:
            _run_to_first_call(importtime, env, cwd, stderr=stderr)
            stderr.seek(0)
            lines = stderr.read().splitlines()
    else:
        done = subprocess.run(
            importtime, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
        lines = done.stderr.splitlines()
    costs: defaultdict[str, float] = defaultdict(float)
    for line in lines:
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        costs[name.partition(".")[0]] += int(self_us) / 1e6
    return sorted(costs.items(), key=lambda item: item[1], reverse=True)[:TOP_IMPORTS]


@pytest.mark.bench
def test_cli_bench(database_url: str, tmp_path: Path) -> None:
    env = command_env(tmp_path, database_url=database_url, login_url=f"https://127.0.0.1:{free_port()}")
    commands: list[tuple[str, list[str], float | None, Callable[..., tuple[float, float]]]] = [
        ("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"], None, _run_to_exit)
    ]
    baseline = os.environ.get("SALESCOACH_BENCH_BASELINE_PYTHON")
    for python, suffix in [(sys.executable, ""), *([(baseline, " (baseline)")] if baseline else [])]:
        salescoach = [python, "-m", "salescoach_cli"]
        commands += [
            (f"salescoach --help{suffix}", [*salescoach, "--help"], 0.3, _run_to_exit),
            (
                f"salescoach apikey create{suffix}",
                [*salescoach, "apikey", "create", "--role", "admin", "--name", "bench"],
                1.0,
                _run_to_exit,
            ),
            (
                f"salescoach sync run, to first Salesforce call{suffix}",
                [*salescoach, "sync", "run"],
                0.5,
                _run_to_first_call,
            ),
        ]
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in commands}
    for _ in range(RUNS):
        for label, args, _, measure in commands:
            runs[label].append(measure(args, env, tmp_path))
    load = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    for label, _, target, _ in commands:
        walls = [wall for wall, _ in runs[label]]
        cpus = [cpu for _, cpu in runs[label]]
        rows.append(
            {
                "command": label,
                "runs": RUNS,
                "median_wall_s": statistics.median(walls),
                "min_wall_s": min(walls),
                "median_cpu_s": statistics.median(cpus),
                "min_cpu_s": min(cpus),
                "target_idle_s": target,
                "load_1min_at_end": load,
            }
        )
    import_rows: list[dict[str, Any]] = []
    for label, args, _, measure in commands[1:]:
        if args[0] != sys.executable:
            continue  # the baseline's import costs are its own run's
        costs = _import_costs(args, env, tmp_path, to_first_call=measure is _run_to_first_call)
        for package, seconds in costs:
            import_rows.append({"command": label, "package": package, "import_self_s": seconds})
    write_report("cli", "salescoach start-up (medians)", rows)
    write_report("cli_imports", "salescoach start-up: import time per package (-X importtime)", import_rows)
