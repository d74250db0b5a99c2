"""`salescoach run` end to end: the demo stack from nothing, then a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cli.test_commands import free_port


def test_run_serves_scorecards_of_the_synced_demo_org_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    state_dir = tmp_path / "state"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SALESCOACH_STATE_DIR": str(state_dir),
        "SALESCOACH_API_PORT": str(port),
        "SALESCOACH_SYNC_INTERVAL_SECONDS": "1",
    }
    stack = subprocess.Popen(
        [sys.executable, "-m", "salescoach_cli", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        ready = False
        while time.monotonic() < deadline and not ready:
            assert stack.poll() is None, "salescoach run exited early"
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.5)
        assert ready
        key = (state_dir / "demo-admin-key").read_text().strip()
        assert (state_dir / "demo-admin-key").stat().st_mode & 0o077 == 0
        headers = {"Authorization": f"Bearer {key}"}

        reps = httpx.get(f"{base}/v1/reps", params={"limit": 500}, headers=headers).json()["items"]
        managers = {rep["manager_id"] for rep in reps}
        # The generated org: a VP, 3 managers, 24 reps of whom one is inactive (not a rep).
        assert len(reps) == 3 + 23
        rep_ids = {rep["id"] for rep in reps}
        vp = next(m for m in managers if m is not None and m not in rep_ids)
        sales_manager = next(r["id"] for r in reps if r["manager_id"] == vp)
        team = httpx.get(
            f"{base}/v1/teams/{sales_manager}/scorecards", params={"period": "2026-Q3"}, headers=headers
        ).json()
        assert team["scorecards"], team
        assert all(card["quota"] is not None for card in team["scorecards"])
        assert sum(card["won_count"] for card in team["scorecards"]) > 0
        assert team["data_as_of"] is not None
        statuses = httpx.get(f"{base}/v1/sync/status", headers=headers).json()["items"]
        assert {s["object_name"] for s in statuses} >= {"User", "Opportunity", "Task", "Event"}
        assert all(s["last_status"] == "ok" for s in statuses)
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.kill()
    deadline = time.monotonic() + 15
    while (state_dir / "pgdata" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (state_dir / "pgdata" / "postmaster.pid").exists(), "embedded PostgreSQL left running"
