"""Every list pages the same way (docs/api.md, "Pagination"): `limit` 1-500, default 100, an
opaque `cursor`, a refused cursor answering 422 `invalid_cursor`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.plugins.factories import Factory

from salescoach_api.app import create_app
from salescoach_core.settings import Settings

# docs/api.md, "Pagination".
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _schema(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return openapi["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _list_operations(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Operations answering a page: an object with `items` and `next_cursor`."""
    found = {}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"].get("200", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema and {"items", "next_cursor"} <= _schema(openapi, schema).get("properties", {}).keys():
                found[f"{method.upper()} {path}"] = operation
    return found


def test_every_list_takes_one_limit_and_an_opaque_cursor() -> None:
    openapi = create_app(Settings()).openapi()
    lists = _list_operations(openapi)
    assert {"GET /v1/reps", "GET /v1/api-keys", "GET /v1/events", "GET /v1/webhooks"} <= lists.keys()
    for name, operation in lists.items():
        query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
        limit = query["limit"]
        assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, MAX_LIMIT, DEFAULT_LIMIT), name
        assert {"type": "string"} in query["cursor"]["anyOf"], name


@pytest.mark.parametrize("path", ["/v1/api-keys", "/v1/reps", "/v1/webhooks", "/v1/events"])
def test_a_list_takes_the_maximum_limit_and_refuses_one_more(client: TestClient, path: str) -> None:
    assert client.get(path, params={"limit": MAX_LIMIT}).status_code == 200
    past = client.get(path, params={"limit": MAX_LIMIT + 1})
    assert past.status_code == 422
    assert past.json()["errors"][0]["loc"] == ["query", "limit"]


def test_the_default_page_is_the_documented_limit(client: TestClient, factory: Factory) -> None:
    manager = factory.user("Manager")
    for number in range(DEFAULT_LIMIT + 1):
        factory.user(f"Rep {number}", manager=manager)
    page = client.get("/v1/reps").json()
    assert len(page["items"]) == DEFAULT_LIMIT
    assert page["next_cursor"] is not None


# "bm9wZQ" is base64url("nope"): well-formed, yet no sort key of a (time, id) list.
@pytest.mark.parametrize("cursor", ["%%%", "bm9wZQ"])
def test_a_cursor_the_api_did_not_issue_is_refused_with_422(
    client: TestClient, factory: Factory, cursor: str
) -> None:
    rep = factory.user("Rep")
    for path in ("/v1/webhooks", f"/v1/reps/{rep.id}/goals", f"/v1/reps/{rep.id}/sessions"):
        refused = client.get(path, params={"cursor": cursor})
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_cursor"), path
