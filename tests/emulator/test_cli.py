"""The commands: ``generate`` writes an org, ``serve`` prints one JSON line and serves it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from salescoach_cli.emulator import app
from salescoach_emulator import spawn_emulator
from tests.plugins.emulator import salesforce_client


def test_generate_command_writes_the_org(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--out",
            str(tmp_path),
            "--reps",
            "3",
            "--managers",
            "1",
            "--months",
            "2",
            "--seed",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.glob("*.csv")} >= {"User.csv", "Task.csv", "OpportunityHistory.csv"}
    assert (
        json.loads((tmp_path / "fields.json").read_text())["Task"]["Salescoach_Id__c"]["externalId"] is True
    )


def test_serve_prints_one_json_line_and_stops_on_sigterm(emulator_org: Path, tmp_path: Path) -> None:
    with spawn_emulator(emulator_org, state_dir=tmp_path / "state") as (emu, process):
        assert Path(emu.ca_bundle).is_file()
        assert salesforce_client(emu).query("SELECT COUNT() FROM User")["totalSize"] > 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stdout is not None
        assert process.stdout.read() == b""  # nothing after the JSON line


def test_serve_refuses_a_missing_org(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "salescoach_cli", "emulator", "serve", "--org", str(tmp_path / "nope")],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == b""
