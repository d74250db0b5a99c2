"""Every error is an RFC 9457 problem: ours, FastAPI's 404/405/422, and unexpected 500s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from salescoach_api.auth.policy import Access, requires
from salescoach_core.errors import ConflictError

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


@pytest.fixture
def probe_client(app: FastAPI, admin_key: str) -> Iterator[TestClient]:
    """The real app with three routes that fail in known ways."""
    client_headers = {"Authorization": f"Bearer {admin_key}"}

    declared = [requires(Access.AUTHENTICATED)]

    @app.get("/probe/items/{item_id}", dependencies=declared)
    def read_item(item_id: int, limit: int = 10) -> dict[str, int]:
        return {"item_id": item_id, "limit": limit}

    @app.post("/probe/conflict", dependencies=declared)
    def conflict() -> None:
        raise ConflictError("Rep 005000000000001AAA already has 2 active goals.", active_goal_ids=[1, 2])

    @app.get("/probe/crash", dependencies=declared)
    def crash() -> None:
        raise RuntimeError("password=hunter2 leaked from a driver")

    with TestClient(app, raise_server_exceptions=False, headers=client_headers) as client:
        yield client


def assert_problem(response_json: dict[str, object], status: int, code: str) -> None:
    assert set(response_json) >= PROBLEM_KEYS
    assert response_json["status"] == status
    assert response_json["code"] == code
    assert response_json["type"] == f"/problems/{code}"


def test_unknown_route_is_a_404_problem(probe_client: TestClient) -> None:
    response = probe_client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(response.json(), 404, "not_found")
    assert "/v1/nothing-here" in response.json()["detail"]


def test_wrong_method_is_a_405_problem(probe_client: TestClient) -> None:
    response = probe_client.delete("/healthz")
    assert response.status_code == 405
    assert_problem(response.json(), 405, "method_not_allowed")


def test_validation_error_is_a_422_problem_with_field_paths(probe_client: TestClient) -> None:
    response = probe_client.get("/probe/items/abc", params={"limit": "many"})
    assert response.status_code == 422
    body = response.json()
    assert_problem(body, 422, "validation_failed")
    locations = sorted(tuple(err["loc"]) for err in body["errors"])
    assert locations == [("path", "item_id"), ("query", "limit")]
    assert "path.item_id" in body["detail"]


def test_domain_error_keeps_its_code_and_extensions(probe_client: TestClient) -> None:
    response = probe_client.post("/probe/conflict")
    assert response.status_code == 409
    body = response.json()
    assert_problem(body, 409, "conflict")
    assert body["active_goal_ids"] == [1, 2]


def test_unexpected_error_is_a_500_problem_without_internals(probe_client: TestClient) -> None:
    response = probe_client.get("/probe/crash")
    assert response.status_code == 500
    assert_problem(response.json(), 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
