"""Emulator fixtures: a generated demo org, a running HTTPS emulator, and a real
simple-salesforce client logged in to it with the emulator's CA verified.

Tests that change data use ``emulator_factory`` for a private instance, so the shared
``emulator`` keeps the generated org untouched.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from salescoach_emulator import EmulatorHandle, generate_org, start_emulator

API_VERSION = "62.0"
EmulatorFactory = Callable[..., EmulatorHandle]


def client_session(handle: EmulatorHandle) -> requests.Session:
    """A requests session that trusts exactly the emulator's CA.

    ``trust_env`` is off because requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override
    ``session.verify``; with them set, the CA bundle would silently be ignored.
    """
    session = requests.Session()
    session.verify = handle.ca_bundle
    session.trust_env = False
    return session


def salesforce_client(handle: EmulatorHandle, *, token: str | None = None) -> Salesforce:
    """simple-salesforce on a token from the emulator's OAuth endpoint (client credentials)."""
    return Salesforce(
        instance_url=handle.instance_url,
        session_id=token or handle.access_token(),
        session=client_session(handle),
        version=API_VERSION,
    )


def write_org(
    org_dir: Path,
    objects: dict[str, list[dict[str, Any]]],
    *,
    fields: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> Path:
    """Build an org folder by hand: one CSV per object from row dicts (None = empty)."""
    org_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in objects.items():
        header = list(dict.fromkeys(key for row in rows for key in row))
        with (org_dir / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if row.get(k) is None else _csv(row[k]) for k in header])
    if fields:
        (org_dir / "fields.json").write_text(json.dumps(fields), encoding="utf-8")
    return org_dir


def _csv(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture(scope="session")
def emulator_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated demo org (seed 7), shared by the session; never written to."""
    out = tmp_path_factory.mktemp("emulator-org")
    generate_org(out, reps=6, managers=2, months=14, seed=7, activities_per_rep_week=15, end=date.today())
    return out


@pytest.fixture(scope="session")
def emulator(emulator_org: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """The shared running emulator on the demo org (HTTPS, port 0). Read-only use, please."""
    with start_emulator(emulator_org, state_dir=tmp_path_factory.mktemp("emulator-state")) as emu:
        yield emu


@pytest.fixture
def sf(emulator: EmulatorHandle) -> Salesforce:
    """A real simple-salesforce client on the shared emulator."""
    return salesforce_client(emulator)


@pytest.fixture
def emulator_factory(
    emulator_org: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorFactory]:
    """Start private emulators (default: on the demo org); all stop when the test ends."""
    with ExitStack() as stack:

        def start(org_dir: Path | None = None, **options: Any) -> EmulatorHandle:
            state = tmp_path_factory.mktemp("emulator-private")
            return stack.enter_context(start_emulator(org_dir or emulator_org, state_dir=state, **options))

        yield start
