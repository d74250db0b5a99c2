"""Liveness, readiness, metrics and the API documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from tests.cli.test_commands import salescoach
from tests.plugins.database import create_database, drop_database

from salescoach_api.app import create_app
from salescoach_core.database import Database
from salescoach_core.settings import Settings


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_with_the_head_revision_when_migrated(client: TestClient) -> None:
    from salescoach_core.database.migrations import head_revision

    response = client.get("/readyz")
    assert response.status_code == 200
    # No DATABASE_REPLICA_URL: no replica to report.
    assert response.json() == {
        "status": "ready",
        "database_revision": head_revision(),
        "schema": "at_head",
        "replica": None,
    }


def test_readyz_answers_the_schema_states_of_salescoach_db_current() -> None:
    """`schema` is `RevisionState.schema`, the word `salescoach db current` prints: the document
    offers exactly its serving states (a schema behind is a 503, not a `schema`)."""
    from salescoach_core.database.migrations import SchemaState

    readiness = create_app(Settings()).openapi()["components"]["schemas"]["Readiness"]
    assert readiness["properties"]["schema"]["enum"] == ["at_head", "ahead"]
    assert [state.value for state in SchemaState if state.serves] == ["at_head", "ahead"]
    assert [state.value for state in SchemaState] == ["at_head", "ahead", "behind"]


def test_readyz_reads_the_migration_scripts_once_per_process(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading them costs milliseconds (salescoach_core.database.migrations.migrations); they
    cannot change while the process runs, so no probe after the first reads them again."""
    from alembic.script import ScriptDirectory

    assert client.get("/readyz").status_code == 200  # the process's first read, if not done yet
    read = ScriptDirectory.from_config
    reads: list[object] = []

    def counted(config: Any, *args: Any, **kwargs: Any) -> ScriptDirectory:
        reads.append(config)
        return read(config, *args, **kwargs)

    monkeypatch.setattr(ScriptDirectory, "from_config", counted)
    for _ in range(3):
        assert client.get("/readyz").json()["schema"] == "at_head"
    assert reads == []


def test_readyz_is_503_naming_pending_migrations_on_an_empty_database(
    settings: Settings, server_engine: Engine
) -> None:
    url = create_database(server_engine, "salescoach_unmigrated")
    engine = create_engine(url)
    try:
        app = create_app(settings, Database.from_engine(settings, engine))
        with TestClient(app) as client:
            response = client.get("/readyz")
    finally:
        engine.dispose()
        drop_database(server_engine, url)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "migrations_pending"
    assert "salescoach db upgrade" in body["detail"]


def test_readyz_is_200_on_a_schema_a_newer_release_migrated(
    settings: Settings, server_engine: Engine, tmp_path: Path
) -> None:
    """Rolling out: the new image's migration Job has run, the old pods still serve. Migrations
    only add (docs/development.md, "Migrations"), so the old code keeps working on the newer
    schema and must stay in the Service until the new pods replace it."""
    from salescoach_core.database.migrations import head_revision, upgrade

    url = create_database(server_engine, "salescoach_ahead")
    engine = create_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f0f0f0f0f0f0'"))
        app = create_app(settings, Database.from_engine(settings, engine))
        with TestClient(app) as client:
            response = client.get("/readyz")
        upgraded = salescoach("db", "upgrade", env={"DATABASE_URL": url}, cwd=tmp_path)
        current = salescoach("db", "current", env={"DATABASE_URL": url}, cwd=tmp_path)
    finally:
        engine.dispose()
        drop_database(server_engine, url)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "database_revision": "f0f0f0f0f0f0",
        "schema": "ahead",
        "replica": None,
    }
    assert head_revision() != "f0f0f0f0f0f0"
    # The old image's migration Job (a rollback) leaves the newer schema alone and says so.
    assert upgraded.returncode == 0, upgraded.stderr
    assert "ahead" in upgraded.stdout
    assert current.returncode == 0, current.stderr
    assert "ahead" in current.stdout


def test_readyz_is_503_when_the_database_does_not_answer(settings: Settings) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    unreachable = settings.model_copy(
        update={"database_url": SecretStr("postgresql://nobody@127.0.0.1:1/none")}
    )
    with TestClient(create_app(unreachable)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"


def test_metrics_are_in_prometheus_text_format(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{handler="/healthz",method="GET",status="200"}' in response.text


def test_openapi_and_interactive_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "salescoach API"
    assert {"/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert "Problem" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


def test_docs_and_redoc_load_every_asset_from_the_api_itself(client: TestClient) -> None:
    """An air-gapped machine reaches no CDN and no font service: every script, style sheet and
    icon the two pages reference must be served by the API."""
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        # Swagger UI's own stylesheet and bundle, ReDoc's standalone bundle: what renders the page.
        assert any(a.endswith(".js") for a in assets), f"{page} references no script: {html}"
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from another host"
            response = client.get(asset)
            assert response.status_code == 200, f"{page}: {asset} answered {response.status_code}"
            assert len(response.content) > 1000, f"{page}: {asset} is nearly empty"
        assert "fonts.googleapis" not in html
