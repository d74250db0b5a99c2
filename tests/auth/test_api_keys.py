"""API keys through the API, the CLI and the demo; credentials errors; rate limits; CORS."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_api.dependencies import get_db_session
from salescoach_core.api_keys import (
    DEMO_KEY_FILE,
    authenticate_api_key,
    ensure_demo_admin_key,
    hash_key,
    revoke_api_key,
)
from salescoach_core.database import Database
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.plugins.auth import Org, RoleKeys, bearer, clear_of_a_minute_boundary


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    client.headers.pop("Authorization")
    return client


def test_a_created_key_is_shown_once_and_works(client: TestClient, db_session: Session, org: Org) -> None:
    created = client.post(
        "/v1/api-keys", json={"name": "Amy's app", "role": "rep", "sf_user_id": org.rep_a1.id}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith(body["prefix"] + "_")
    assert body["prefix"].startswith("sc_live_")
    assert len(key) > 50
    stored = db_session.execute(text("SELECT key_hash FROM api_key WHERE prefix = :p"), {"p": body["prefix"]})
    assert stored.scalar_one() == hash_key(key)

    listed = client.get("/v1/api-keys").json()["items"]
    mine = next(item for item in listed if item["prefix"] == body["prefix"])
    assert "key" not in mine
    assert key not in str(listed)
    me = client.get("/v1/me", headers=bearer(key)).json()
    assert (me["role"], me["sf_user_id"], me["subject"]) == ("rep", org.rep_a1.id, body["prefix"])


def test_a_revoked_key_stops_working_at_once(client: TestClient, role_keys: RoleKeys) -> None:
    key = role_keys.keys[Role.INTEGRATION]
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200
    assert client.delete(f"/v1/api-keys/{key[:16]}").status_code == 204
    assert client.delete(f"/v1/api-keys/{key[:16]}").status_code == 204
    response = client.get("/v1/me", headers=bearer(key))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_revoking_an_unknown_prefix_is_404(client: TestClient) -> None:
    assert client.delete("/v1/api-keys/sc_live_00000000").json()["code"] == "api_key_not_found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "m", "role": "manager"}, "sf_user_required"),
        ({"name": "r", "role": "rep", "sf_user_id": "005000000000999AAA"}, "unknown_sf_user"),
        ({"name": "x", "role": "superuser"}, "validation_failed"),
    ],
)
def test_invalid_keys_are_refused_with_422(client: TestClient, body: dict[str, str], code: str) -> None:
    response = client.post("/v1/api-keys", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_the_key_list_pages_with_a_cursor(client: TestClient, role_keys: RoleKeys) -> None:
    first = client.get("/v1/api-keys", params={"limit": 2}).json()
    second = client.get("/v1/api-keys", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    assert {k["prefix"] for k in first["items"]}.isdisjoint(k["prefix"] for k in second["items"])


@pytest.mark.parametrize(
    ("authorization", "code", "challenge"),
    [
        (None, "unauthorized", 'Bearer realm="salescoach"'),
        ("Basic dXNlcjpwYXNz", "unauthorized", 'Bearer realm="salescoach"'),
        ("Bearer sc_live_deadbeef_nope", "unauthorized", 'Bearer realm="salescoach", error="invalid_token"'),
        ("Bearer not-a-jwt", "unauthorized", 'Bearer realm="salescoach", error="invalid_token"'),
    ],
    ids=["missing", "basic", "unknown-key", "garbage"],
)
def test_missing_or_invalid_credentials_are_401_problems_with_a_challenge(
    anonymous: TestClient, authorization: str | None, code: str, challenge: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = anonymous.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"] == challenge


def test_only_admins_manage_keys(client: TestClient, role_keys: RoleKeys) -> None:
    for role in (Role.MANAGER, Role.REP, Role.INTEGRATION):
        response = client.get("/v1/api-keys", headers=role_keys.headers(role))
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"


def test_requests_over_the_rate_limit_get_429_with_retry_after(
    settings: Settings, database: Database, db_session: Session, role_keys: RoleKeys
) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}), database)
    app.dependency_overrides[get_db_session] = lambda: db_session
    with TestClient(app, raise_server_exceptions=False) as client:
        rep = role_keys.headers(Role.REP)
        clear_of_a_minute_boundary(database.engine())
        assert [client.get("/v1/me", headers=rep).status_code for _ in range(3)] == [200, 200, 200]
        limited = client.get("/v1/me", headers=rep)
        # Counted per key: another key still gets through.
        assert client.get("/v1/me", headers=role_keys.headers(Role.MANAGER)).status_code == 200
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_cors_allows_configured_origins_only(settings: Settings, database: Database) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://coach.example.com"]}), database)
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    with TestClient(app) as client:
        allowed = client.options("/v1/me", headers={"Origin": "https://coach.example.com", **preflight})
        refused = client.options("/v1/me", headers={"Origin": "https://evil.example.com", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://coach.example.com"
    assert "access-control-allow-origin" not in refused.headers


def test_demo_admin_key_is_kept_across_runs_and_replaced_when_revoked(
    db_session: Session, tmp_path: Path
) -> None:
    first = ensure_demo_admin_key(db_session, tmp_path)
    assert ensure_demo_admin_key(db_session, tmp_path) == first
    key_file = tmp_path / DEMO_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    principal = authenticate_api_key(db_session, first)
    assert principal is not None
    assert principal.role is Role.ADMIN

    revoke_api_key(db_session, prefix=first[:16])
    second = ensure_demo_admin_key(db_session, tmp_path)
    assert second != first
    assert key_file.read_text().strip() == second
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def salescoach(
    *args: str, database_url: str, cwd: Path, columns: str | None = "200"
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database_url}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-c", "from salescoach_cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def committed_rep(engine: Engine) -> Iterator[str]:
    """A synced user committed for real: the CLI runs in its own process and transaction."""
    user_id = "005CLITEST00001Y5A"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sf_user (id, name, is_active) VALUES (:id, 'CLI Rep', true)"), {"id": user_id}
        )
    yield user_id
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_key WHERE sf_user_id = :id"), {"id": user_id})
        conn.execute(text("DELETE FROM sf_user WHERE id = :id"), {"id": user_id})


def test_cli_creates_lists_and_revokes_keys(
    database_url: str, engine: Engine, tmp_path: Path, committed_rep: str
) -> None:
    created = salescoach(
        "apikey", "create", "--role", "rep", "--name", "cli rep", "--sf-user-id", committed_rep,
        database_url=database_url, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert created.stdout == key + "\n"
    assert key.startswith("sc_live_")
    prefix = key[:16]

    listed = salescoach("apikey", "list", database_url=database_url, cwd=tmp_path)
    assert prefix in listed.stdout
    assert key not in listed.stdout

    assert salescoach("apikey", "revoke", prefix, database_url=database_url, cwd=tmp_path).returncode == 0
    with Session(engine) as session:
        assert authenticate_api_key(session, key) is None

    refused = salescoach(
        "apikey", "create", "--role", "manager", "--name", "m", database_url=database_url, cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "needs sf_user_id" in refused.stderr


def test_cli_list_keeps_whole_rows_when_written_to_a_pipe(
    database_url: str, tmp_path: Path, committed_rep: str
) -> None:
    name = "quarterly-pipeline-review-bot-for-the-emea-team"  # with the other cells, a row of > 80 columns
    created = salescoach(
        "apikey", "create", "--role", "rep", "--name", name, "--sf-user-id", committed_rep,
        database_url=database_url, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    prefix = created.stdout.strip()[:16]

    listed = salescoach("apikey", "list", database_url=database_url, cwd=tmp_path, columns=None)  # a pipe

    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if prefix in line]
    assert [cell.strip() for cell in row.split("│")[1:-1]][:4] == [prefix, name, "rep", committed_rep]
