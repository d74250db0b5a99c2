"""The API contract frontends build on: docs/openapi.json is what the app serves, and every
operation has a clean operation id, a domain tag and the problem-details error responses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from salescoach_api.app import create_app
from salescoach_api.auth.policy import PUBLIC_PATHS, Access, requires, v1_router
from salescoach_core.settings import Settings

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _operations(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, ops in openapi["paths"].items()
        if path not in PUBLIC_PATHS
        for method, op in ops.items()
    ]


def test_committed_openapi_is_the_apps(openapi: dict[str, Any]) -> None:
    served = json.dumps(openapi, indent=2, sort_keys=True) + "\n"
    assert COMMITTED.read_text() == served, (
        "docs/openapi.json is out of date: run `.venv/bin/salescoach api openapi > docs/openapi.json`"
    )


def test_operation_ids_are_unique_camel_case(openapi: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, op in _operations(openapi)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z][A-Za-z0-9]+", i)] == []


def test_every_operation_has_a_tag_and_problem_responses(openapi: dict[str, Any]) -> None:
    for name, op in _operations(openapi):
        assert op.get("tags"), name
        for status in ("4XX", "5XX"):
            content = op["responses"][status]["content"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, name


def test_a_route_added_after_the_document_was_built_is_documented_like_the_others() -> None:
    app = create_app(Settings())
    app.openapi()
    late = v1_router(prefix="/v1")
    late.add_api_route("/late", _created, methods=["POST"], dependencies=[requires(Access.ADMIN)])
    app.include_router(late)

    operation = app.openapi()["paths"]["/v1/late"]["post"]

    assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]


def _created() -> dict[str, str]:
    return {"status": "created"}
