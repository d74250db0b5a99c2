"""Every list pages the same way (docs/api.md, "Pagination"): `limit` 1-500, default 100, an
opaque `cursor`, a refused cursor answering one 422 `invalid_cursor` problem; and every list but
the events feed takes `sort`, its cursors continuing only the sort they were issued for
(docs/api.md, "Sorting")."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from tests.plugins.factories import Factory

from salescoach_api.app import create_app
from salescoach_api.dependencies import get_now
from salescoach_core.api_keys import create_api_key
from salescoach_core.integrations.signing import generate_secret
from salescoach_core.models.integrations import WebhookEndpoint
from salescoach_core.roles import Role
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


# The events feed is another kind of list: a monotonic feed of event positions whose
# `next_cursor` is always set (docs/api.md, "Pagination"); every other list is a sorted list.
FEED = "listEvents"
PAGING = {"limit", "cursor", "sort"}
# What more it says depends on the list's fields (tests/api/test_schema_descriptions.py).
SORT_DESCRIPTION = "Sort order: a field ascending, `-field` descending"
NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _by_operation(openapi: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each list operation's id: its path and the operation."""
    return {
        operation["operationId"]: (name.split(" ", 1)[1], operation)
        for name, operation in _list_operations(openapi).items()
    }


def test_every_list_but_the_feed_takes_limit_cursor_and_a_sort_enum() -> None:
    lists = _by_operation(create_app(Settings()).openapi())
    sorted_lists = {op for op in lists if op != FEED}
    assert {
        "listReps",
        "listApiKeys",
        "listGoals",
        "listSessions",
        "listActionItems",
        "listWebhooks",
        "listWebhookDeliveries",
    } <= sorted_lists
    for operation_id in sorted_lists:
        _, operation = lists[operation_id]
        query = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert query.keys() >= PAGING, operation_id
        sort = query["sort"]
        enum = sort["schema"]["enum"]
        fields = [value for value in enum if not value.startswith("-")]
        assert fields, operation_id
        assert sorted(enum) == sorted([*fields, *(f"-{f}" for f in fields)]), operation_id
        assert sort["schema"]["default"] in enum, operation_id
        assert sort["description"].startswith(SORT_DESCRIPTION), operation_id
        assert sort["description"].endswith(f"Default `{sort['schema']['default']}`."), operation_id


@dataclass(frozen=True)
class EveryList:
    path_params: dict[str, str]
    old_cursors: list[str]
    """Cursors in the formats the API issued before: before every list had a sort, a webhook's
    `(created_at, id)` and an API key's bare prefix; before cursors named their list, a
    `[sort, value, id]` triple."""


@pytest.fixture
def every_list(app: FastAPI, client: TestClient, factory: Factory, db_session: Session) -> EveryList:
    """Two rows or more in every list, and the path parameters that reach them."""
    app.dependency_overrides[get_now] = lambda: NOW
    boss = factory.user("Boss")
    rep = factory.user("Rep", manager=boss)
    factory.user("Other rep", manager=boss)
    endpoints = [
        WebhookEndpoint(url="https://hooks.example.com/in", secret=generate_secret(), created_at=NOW)
        for _ in range(2)
    ]
    db_session.add_all(endpoints)
    db_session.flush()
    second_key = create_api_key(db_session, name="second", role=Role.ADMIN, sf_user_id=None).row
    goal = {"kind": "skill", "skill": "discovery", "measurement_plan": "ride-alongs", "coach_id": boss.id}
    for period in ("2026-11", "2026-12"):  # each goal.created queues a delivery to both endpoints
        assert client.post(f"/v1/reps/{rep.id}/goals", json={**goal, "period": period}).status_code == 201
    for hour in ("09", "10"):
        body = {"scheduled_at": f"2026-11-12T{hour}:00:00Z", "duration_minutes": 30, "coach_id": boss.id}
        created = client.post(f"/v1/reps/{rep.id}/sessions", json=body)
        assert created.status_code == 201, created.text
        item = {"description": "Call the stalled deals", "due_date": "2026-11-20"}
        assert client.post(f"/v1/sessions/{created.json()['id']}/action-items", json=item).status_code == 201
    endpoint = endpoints[0]
    return EveryList(
        path_params={"rep_id": rep.id, "webhook_id": str(endpoint.id)},
        old_cursors=[
            _b64(f"{endpoint.created_at.isoformat()}|{endpoint.id}"),
            _b64(second_key.prefix),
            _b64(json.dumps(["created_at", endpoint.created_at.isoformat(), str(endpoint.id)])),
        ],
    )


def _url(path: str, every_list: EveryList) -> str:
    return path.format(**every_list.path_params)


def test_every_list_refuses_a_cursor_it_did_not_issue_with_one_problem(
    client: TestClient, every_list: EveryList
) -> None:
    refused_with: dict[str, set[tuple[Any, ...]]] = {"feed": set(), "sorted": set()}
    # "bm9wZQ" is base64url("nope"): well-formed base64, yet no cursor of any list.
    for cursor in ["%%%", "bm9wZQ", *every_list.old_cursors]:
        for operation_id, (path, _) in _by_operation(create_app(Settings()).openapi()).items():
            refused = client.get(_url(path, every_list), params={"cursor": cursor})
            problem = refused.json()
            assert (refused.status_code, problem.get("code")) == (422, "invalid_cursor"), (
                operation_id,
                cursor,
            )
            kind = "feed" if operation_id == FEED else "sorted"
            refused_with[kind].add((problem["title"], problem["detail"], problem["type"]))
    # The same problem from every sorted list, whatever the cursor.
    assert len(refused_with["sorted"]) == 1, refused_with["sorted"]


def test_every_list_but_the_feed_pages_with_cursors_that_carry_their_sort(
    client: TestClient, every_list: EveryList
) -> None:
    for operation_id, (path, operation) in _by_operation(create_app(Settings()).openapi()).items():
        if operation_id == FEED:
            continue
        url = _url(path, every_list)
        (sort,) = [p["schema"] for p in operation["parameters"] if p["name"] == "sort"]
        first = client.get(url, params={"limit": 1}).json()
        assert first["next_cursor"], operation_id
        second = client.get(url, params={"limit": 1, "cursor": first["next_cursor"]}).json()
        assert len(second["items"]) == 1, operation_id
        assert second["items"] != first["items"], operation_id
        explicit = client.get(
            url, params={"limit": 1, "sort": sort["default"], "cursor": first["next_cursor"]}
        )
        assert explicit.json() == second, operation_id
        for other in (value for value in sort["enum"] if value != sort["default"]):
            refused = client.get(url, params={"limit": 1, "sort": other, "cursor": first["next_cursor"]})
            assert (refused.status_code, refused.json()["code"]) == (422, "invalid_cursor"), (
                operation_id,
                other,
            )
            assert f"sort={sort['default']}" in refused.json()["detail"], (operation_id, other)


def test_a_cursor_from_another_list_is_refused_like_any_foreign_cursor(
    client: TestClient, every_list: EveryList
) -> None:
    """A cursor names the list that issued it as well as its sort: a goals cursor for
    `sort=created_at` is no position in the webhooks list sorted the same way."""
    lists = {
        operation_id: (_url(path, every_list), sort)
        for operation_id, (path, operation) in _by_operation(create_app(Settings()).openapi()).items()
        if operation_id != FEED
        for sort in [p["schema"] for p in operation["parameters"] if p["name"] == "sort"]
    }

    def problem(url: str, params: dict[str, Any]) -> tuple[Any, ...]:
        refused = client.get(url, params=params)
        body = refused.json()
        return refused.status_code, body.get("code"), body.get("title"), body.get("detail"), body.get("type")

    # "bm9wZQ" is base64url("nope"): the problem of a cursor no list issued.
    foreign = {operation_id: problem(url, {"cursor": "bm9wZQ"}) for operation_id, (url, _) in lists.items()}
    presented = set()
    for issuer, (url, sort) in lists.items():
        for value in sort["enum"]:
            cursor = client.get(url, params={"limit": 1, "sort": value}).json()["next_cursor"]
            assert cursor, (issuer, value)
            for taker, (other_url, other_sort) in lists.items():
                if taker == issuer or value not in other_sort["enum"]:
                    continue
                refused = problem(other_url, {"limit": 1, "sort": value, "cursor": cursor})
                assert refused == foreign[taker], (issuer, taker, value)
                presented.add((issuer, taker, value))
    # Shared sort fields (docs/api.md, "Sorting"): `created_at` by goals, sessions, action items,
    # webhooks and deliveries (5 * 4 ordered pairs); `updated_at` by goals, sessions and action
    # items (3 * 2); `closed_at` by goals and sessions (2 * 1); each ascending and descending.
    assert len(presented) == (5 * 4 + 3 * 2 + 2 * 1) * 2
    assert ("listGoals", "listWebhooks", "created_at") in presented
    assert ("listWebhooks", "listWebhookDeliveries", "-created_at") in presented
