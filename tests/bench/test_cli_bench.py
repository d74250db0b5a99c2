"""`salescoach` start-up: `--help`, `apikey create` and `sync run` up to its first Salesforce call.

Each command runs RUNS times as a child process configured by environment variables only; the
table gives the median wall time (exec to exit; for `sync run`, exec to the first TCP connection
to its Salesforce login URL, a socket this test listens on) and the median CPU time (user + sys,
os.wait4), which a shared, loaded machine inflates less than the wall time. The targets are for
an idle 2-core machine. A second table lists, per command, the packages whose imports cost most
(`python -X importtime`, self time summed per top-level package).

Not a timed test: it prints the tables and writes bench-results/cli.json and cli_imports.json.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bench.report import write_report
from tests.cli.startup import command_env, free_port

RUNS = 7
TOP_IMPORTS = 8
SALESCOACH = [sys.executable, "-m", "salescoach_cli"]


def _run_to_exit(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, args
    return wall, usage.ru_utime + usage.ru_stime


def _run_to_first_call(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
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
            stderr=subprocess.DEVNULL,
        )
        connection, _ = listener.accept()
        wall = time.perf_counter() - started
        connection.close()
    process.kill()
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = -9
    return wall, usage.ru_utime + usage.ru_stime


def _import_costs(args: list[str], env: dict[str, str], cwd: Path) -> list[tuple[str, float]]:
    """Self import time per top-level package, in seconds, most first."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    costs: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        costs[name.partition(".")[0]] += int(self_us) / 1e6
    return costs.most_common(TOP_IMPORTS)


@pytest.mark.bench
def test_cli_bench(database_url: str, tmp_path: Path) -> None:
    env = command_env(tmp_path, database_url=database_url, login_url=f"https://127.0.0.1:{free_port()}")
    commands: list[tuple[str, list[str], float, Callable[..., tuple[float, float]]]] = [
        ("salescoach --help", [*SALESCOACH, "--help"], 0.3, _run_to_exit),
        (
            "salescoach apikey create",
            [*SALESCOACH, "apikey", "create", "--role", "admin", "--name", "bench"],
            1.0,
            _run_to_exit,
        ),
        (
            "salescoach sync run, to first Salesforce call",
            [*SALESCOACH, "sync", "run"],
            0.5,
            _run_to_first_call,
        ),
    ]
    rows: list[dict[str, Any]] = []
    import_rows: list[dict[str, Any]] = []
    for label, args, target, measure in commands:
        runs = [measure(args, env, tmp_path) for _ in range(RUNS)]
        walls = [wall for wall, _ in runs]
        cpus = [cpu for _, cpu in runs]
        rows.append(
            {
                "command": label,
                "runs": RUNS,
                "median_wall_s": statistics.median(walls),
                "min_wall_s": min(walls),
                "median_cpu_s": statistics.median(cpus),
                "target_idle_s": target,
                "load_1min": os.getloadavg()[0],
            }
        )
        for package, seconds in _import_costs(args, env, tmp_path):
            import_rows.append({"command": label, "package": package, "import_self_s": seconds})
    write_report("cli", "salescoach start-up (medians)", rows)
    write_report("cli_imports", "salescoach start-up: import time per package (-X importtime)", import_rows)
