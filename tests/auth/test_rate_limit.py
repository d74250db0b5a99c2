"""The rate limit counted by every API process together: in PostgreSQL by default, in Redis when
SALESCOACH_RATE_LIMIT_STORAGE names one. Two applications on one database stand for two replicas
(tests/integrations/test_replicas.py runs real processes)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_core.database import Database
from salescoach_core.models.auth import API_KEY_PREFIX_LENGTH
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.cli.test_commands import free_port
from tests.plugins.api import app_in_test_transaction
from tests.plugins.auth import RoleKeys, clear_of_a_minute_boundary

LIMIT = 3


@pytest.fixture
def replicas(settings: Settings, database: Database, db_session: Session) -> Iterator[list[TestClient]]:
    """Two applications (two replicas' worth of process state) with a limit of LIMIT a minute."""
    limited = settings.model_copy(update={"rate_limit_per_minute": LIMIT})
    apps = [app_in_test_transaction(limited, database, db_session) for _ in range(2)]
    with TestClient(apps[0], raise_server_exceptions=False) as a, TestClient(apps[1]) as b:
        yield [a, b]


def statuses(clients: list[TestClient], headers: dict[str, str], count: int) -> list[int]:
    """`count` GET /v1/me, round-robin over `clients`."""
    return [
        client.get("/v1/me", headers=headers).status_code for client, _ in zip(cycle(clients), range(count))
    ]


def test_replicas_on_one_database_share_one_limit(
    replicas: list[TestClient], role_keys: RoleKeys, engine: Engine
) -> None:
    clear_of_a_minute_boundary(engine)
    rep = role_keys.headers(Role.REP)
    assert statuses(replicas, rep, 2 * LIMIT) == [200] * LIMIT + [429] * LIMIT
    # Counted per credential on every replica: another key still gets through on both.
    manager = role_keys.headers(Role.MANAGER)
    assert statuses(replicas, manager, 2) == [200, 200]


def test_the_retry_after_is_the_rest_of_the_database_minute(
    replicas: list[TestClient], role_keys: RoleKeys, engine: Engine
) -> None:
    clear_of_a_minute_boundary(engine)
    rep = role_keys.headers(Role.REP)
    statuses(replicas, rep, LIMIT)
    with engine.connect() as conn:
        now = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    limited = replicas[1].get("/v1/me", headers=rep)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    # Whole seconds, rounded up, from the refusal to the next minute of the database's clock.
    assert int(limited.headers["retry-after"]) in {
        int((next_minute - now).total_seconds()),
        int((next_minute - now).total_seconds()) + 1,
    }


def test_past_minutes_are_pruned_and_the_current_one_kept(
    replicas: list[TestClient], role_keys: RoleKeys, engine: Engine
) -> None:
    old = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rate_limit_window (principal, window_start, hits)"
                " VALUES ('api_key:gone', :at, 9)"
            ),
            {"at": old},
        )
    me = f"api_key:{role_keys.keys[Role.ADMIN][:API_KEY_PREFIX_LENGTH]}"
    clear_of_a_minute_boundary(engine)
    assert replicas[0].get("/v1/me", headers=role_keys.headers(Role.ADMIN)).status_code == 200
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT principal, hits FROM rate_limit_window WHERE principal IN ('api_key:gone', :me)"),
            {"me": me},
        ).all()
    assert [tuple(row) for row in left] == [(me, 1)]


# ---------------------------------------------------------------------------- Redis


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server on 127.0.0.1 (no persistence), stopped after the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _apps(settings: Settings, database: Database, db_session: Session, **update: Any) -> list[FastAPI]:
    configured = settings.model_copy(update={"rate_limit_per_minute": LIMIT, **update})
    return [app_in_test_transaction(configured, database, db_session) for _ in range(2)]


def test_a_redis_storage_is_shared_by_replicas_and_its_outage_is_a_503(
    settings: Settings, database: Database, db_session: Session, role_keys: RoleKeys, redis_url: str
) -> None:
    apps = _apps(settings, database, db_session, rate_limit_storage=SecretStr(redis_url))
    with TestClient(apps[0], raise_server_exceptions=False) as a, TestClient(apps[1]) as b:
        rep = role_keys.headers(Role.REP)
        assert statuses([a, b], rep, 2 * LIMIT) == [200] * LIMIT + [429] * LIMIT
        limited = b.get("/v1/me", headers=rep)
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        with database.engine().connect() as conn:
            counted = conn.execute(text("SELECT count(*) FROM rate_limit_window")).scalar_one()

        subprocess.run(["redis-cli", "-u", redis_url, "shutdown", "nosave"], check=False, capture_output=True)
        down = a.get("/v1/me", headers=role_keys.headers(Role.MANAGER))
    assert down.status_code == 503
    assert down.json()["code"] == "rate_limit_store_unavailable"
    assert redis_url not in down.text
    # Nothing was counted in PostgreSQL meanwhile (rows of other tests may be there, none added).
    with database.engine().connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rate_limit_window")).scalar_one() == counted


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [
        ("rediz://user:hunter2@cache:6379", "rediz"),  # a typo
        ("memory://hunter2", "memory"),  # counts in each process
        ("async+redis://:hunter2@cache:6379", "async+redis"),  # not usable from sync code
    ],
)
def test_a_storage_replicas_cannot_share_is_refused_at_start_without_printing_its_password(
    settings: Settings, database: Database, uri: str, scheme: str
) -> None:
    broken = settings.model_copy(update={"rate_limit_storage": SecretStr(uri)})
    with pytest.raises(ValueError, match="SALESCOACH_RATE_LIMIT_STORAGE") as raised:
        create_app(broken, database)
    assert "hunter2" not in str(raised.value)
    assert f"{scheme!r}" in str(raised.value)
