"""CORS as a browser meets it: every documented request header passes a preflight, every header a
client reads is exposed, refusals are problems with a code, and error answers carry CORS headers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session
from tests.plugins.api import app_in_test_transaction

from salescoach_api.app import create_app
from salescoach_api.auth.policy import Access, requires
from salescoach_core.database import Database
from salescoach_core.settings import Settings

ORIGIN = "https://coach.example.com"
# What docs/integrations.md and the OpenAPI document tell a client to send and to read.
DOCUMENTED_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "If-Match",
    "X-Request-ID",
]
READABLE_RESPONSE_HEADERS = [
    "ETag",
    "Idempotent-Replayed",
    "Content-Disposition",
    "Retry-After",
    "X-Request-ID",
    "WWW-Authenticate",
]


def _preflight(origin: str, method: str = "POST", headers: str = "authorization") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.fixture
def cors_app(settings: Settings, database: Database, db_session: Session) -> FastAPI:
    return app_in_test_transaction(
        settings.model_copy(update={"cors_origins": [ORIGIN]}), database, db_session
    )


@pytest.fixture
def cors_client(cors_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(cors_app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("header", DOCUMENTED_REQUEST_HEADERS)
def test_preflight_allows_each_documented_request_header(cors_client: TestClient, header: str) -> None:
    # Browsers send the names lower-cased, comma-separated.
    response = cors_client.options("/v1/goals", headers=_preflight(ORIGIN, headers=header.lower()))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert header.lower() in allowed


def test_preflight_allows_all_documented_headers_at_once(cors_client: TestClient) -> None:
    requested = ", ".join(h.lower() for h in DOCUMENTED_REQUEST_HEADERS)
    response = cors_client.options("/v1/goals", headers=_preflight(ORIGIN, headers=requested))
    assert response.status_code == 200, response.text


def test_responses_expose_every_header_a_client_reads(cors_client: TestClient, admin_key: str) -> None:
    response = cors_client.get("/v1/me", headers={"Origin": ORIGIN, "Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert exposed >= {h.lower() for h in READABLE_RESPONSE_HEADERS}


def test_preflight_from_an_unknown_origin_is_a_problem(cors_client: TestClient) -> None:
    response = cors_client.options("/v1/goals", headers=_preflight("https://evil.example.com"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "cors_origin_not_allowed"
    assert body["status"] == 403
    assert "SALESCOACH_CORS_ORIGINS" in body["detail"]
    assert "access-control-allow-origin" not in response.headers


def test_preflight_with_an_undocumented_header_is_a_problem_naming_it(cors_client: TestClient) -> None:
    response = cors_client.options(
        "/v1/goals", headers=_preflight(ORIGIN, headers="authorization, x-debug-me")
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "cors_header_not_allowed"
    assert "x-debug-me" in body["detail"]
    assert "authorization" not in body["detail"].split(":", 1)[1]


def test_preflight_with_an_unsupported_method_is_a_problem(cors_client: TestClient) -> None:
    response = cors_client.options("/v1/goals", headers=_preflight(ORIGIN, method="TRACE"))
    assert response.status_code == 400
    assert response.json()["code"] == "cors_method_not_allowed"


def test_preflight_without_cors_configured_is_a_problem(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = client.options("/v1/goals", headers=_preflight(ORIGIN))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "cors_origin_not_allowed"
    assert "SALESCOACH_CORS_ORIGINS" in response.json()["detail"]


def test_client_errors_carry_cors_headers(cors_client: TestClient) -> None:
    response = cors_client.get("/v1/me", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "www-authenticate" in response.headers["access-control-expose-headers"].lower()


def test_an_unexpected_500_carries_cors_headers(cors_app: FastAPI, admin_key: str) -> None:
    @cors_app.get("/probe/crash", dependencies=[requires(Access.AUTHENTICATED)])
    def crash() -> None:
        raise RuntimeError("boom")

    with TestClient(cors_app, raise_server_exceptions=False) as client:
        response = client.get(
            "/probe/crash", headers={"Origin": ORIGIN, "Authorization": f"Bearer {admin_key}"}
        )
        other = client.get(
            "/probe/crash",
            headers={"Origin": "https://evil.example.com", "Authorization": f"Bearer {admin_key}"},
        )
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers


def test_a_database_outage_503_carries_cors_headers(tmp_path_factory: pytest.TempPathFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings = Settings(
        database_url=f"postgresql://salescoach@127.0.0.1:{closed_port}/salescoach",  # type: ignore[arg-type]
        state_dir=tmp_path_factory.mktemp("cors-outage"),
        cors_origins=[ORIGIN],
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/v1/reps", headers={"Origin": ORIGIN, "Authorization": "Bearer sc_live_x_y"})
    assert response.status_code == 503, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()


def test_a_server_error_from_sql_carries_cors_headers(
    cors_client: TestClient, db_session: Session, admin_key: str
) -> None:
    db_session.execute(text("ALTER TABLE sf_user RENAME TO sf_user_gone"))
    response = cors_client.get("/v1/reps", headers={"Origin": ORIGIN, "Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 500
    assert response.headers["access-control-allow-origin"] == ORIGIN
