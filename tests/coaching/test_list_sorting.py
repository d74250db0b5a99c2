"""Client-chosen sort on the lists a UI sorts (docs/api.md, "Sorting"): `sort=field` ascending,
`sort=-field` descending, ties by id in the same direction, nulls last ascending and first
descending (so `-field` is exactly the reverse of `field`); every page continues the sort its
cursor was issued for."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from salescoach_api.app import create_app
from salescoach_core.models import SfUser
from salescoach_core.settings import Settings
from tests.coaching.conftest import NOW, Team, new_item, new_session, ok
from tests.plugins.factories import Factory

# docs/api.md, "Sorting": each list's sortable fields, the first being the default order.
SORTS = {
    "listReps": ["id", "name"],
    "listGoals": ["created_at", "updated_at", "period_from", "closed_at"],
    "listSessions": ["scheduled_at", "created_at", "updated_at", "follow_up_at", "closed_at"],
    "listActionItems": ["created_at", "updated_at", "due_date", "completed_on"],
}
NULLABLE = {"name", "closed_at", "follow_up_at", "due_date", "completed_on"}


def _value(raw: Any) -> Any:
    """A JSON value as the type the API sorts it as (a date, an instant, or text)."""
    if not isinstance(raw, str):
        return raw
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(raw)
        except ValueError:
            continue
    return raw


def _row_id(raw: str) -> Any:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return raw  # a Salesforce id: compared as text (the database's collation is C)


def expected_order(rows: list[dict[str, Any]], sort: str) -> list[str]:
    """The documented order, computed from the rows: nulls after every value, ties by id; a
    leading `-` reverses all of it."""
    field = sort.removeprefix("-")
    ascending = sorted(
        rows,
        key=lambda row: (
            row[field] is None,
            _value(row[field]) if row[field] is not None else 0,
            _row_id(row["id"]),
        ),
    )
    ids = [row["id"] for row in ascending]
    return ids[::-1] if sort.startswith("-") else ids


def walk(client: TestClient, path: str, sort: str | None, limit: int = 2) -> list[str]:
    """Every id of the list, page after page."""
    ids: list[str] = []
    cursor = None
    while True:
        params = {
            "limit": limit,
            **({"sort": sort} if sort else {}),
            **({"cursor": cursor} if cursor else {}),
        }
        page = ok(client.get(path, params=params))
        assert len(page["items"]) <= limit
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def assert_every_sort_walks_the_whole_list(client: TestClient, path: str, fields: list[str]) -> None:
    full = ok(client.get(path, params={"limit": 500}))
    assert full["next_cursor"] is None
    rows = full["items"]
    assert [row["id"] for row in rows] == expected_order(rows, fields[0]), "default order"
    for field in fields:
        values = [row[field] for row in rows]
        if field != "id":
            assert len(set(values)) < len(values), f"{field}: the rows must have a tie to break"
            assert None in values or field not in NULLABLE, f"{field}: the rows must have a null"
        for sort in (field, f"-{field}"):
            assert walk(client, path, sort) == expected_order(rows, sort), f"{path} sort={sort}"
    assert walk(client, path, None) == expected_order(rows, fields[0])


@pytest.fixture
def coaching_rows(client: TestClient, team: Team, set_now: Callable[[datetime], None]) -> SfUser:
    """Alice's goals, sessions and action items, with ties and nulls in every sortable field."""
    rep = team.alice

    def goal(period: str) -> dict[str, Any]:
        body = {
            "kind": "skill",
            "skill": "discovery",
            "measurement_plan": "rated by the coach",
            "period": period,
            "coach_id": team.maya.id,
        }
        return ok(client.post(f"/v1/reps/{rep.id}/goals", json=body), 201)  # type: ignore[no-any-return]

    first = goal("2026-11")
    goal("2026-11")
    set_now(NOW + timedelta(hours=1))
    closed = goal("2026-12")
    goal("2027-01")
    ok(client.patch(f"/v1/goals/{first['id']}", json={"status": "abandoned"}))
    ok(client.patch(f"/v1/goals/{closed['id']}", json={"status": "abandoned"}))

    set_now(NOW)
    early = new_session(client, rep, scheduled_at="2026-11-12T09:00:00Z")
    same_time = new_session(
        client, rep, scheduled_at="2026-11-12T09:00:00Z", follow_up_at="2026-11-26T09:00:00Z"
    )
    set_now(NOW + timedelta(hours=2))
    later = new_session(client, rep, scheduled_at="2026-11-05T09:00:00Z", follow_up_at="2026-11-26T09:00:00Z")

    set_now(NOW)
    new_item(client, early["id"], due_date="2026-11-20")
    undated = new_item(client, early["id"], due_date=None)
    new_item(client, same_time["id"], due_date="2026-11-20")
    set_now(NOW + timedelta(days=1))
    done = new_item(client, same_time["id"], due_date="2026-11-18")
    new_item(client, later["id"], due_date=None)
    for item in (done, undated):
        ok(
            client.patch(
                f"/v1/action-items/{item['id']}", json={"status": "completed", "completed_on": "2026-11-11"}
            )
        )
    ok(client.post(f"/v1/sessions/{later['id']}/cancel"))
    ok(client.post(f"/v1/sessions/{early['id']}/cancel"))
    return rep


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        ("listGoals", "/v1/reps/{rep}/goals"),
        ("listSessions", "/v1/reps/{rep}/sessions"),
        ("listActionItems", "/v1/reps/{rep}/action-items"),
    ],
)
def test_every_sort_of_a_coaching_list_pages_through_it_in_the_documented_order(
    client: TestClient, coaching_rows: SfUser, operation: str, path: str
) -> None:
    assert_every_sort_walks_the_whole_list(client, path.format(rep=coaching_rows.id), SORTS[operation])


def test_every_sort_of_the_rep_list_pages_through_it_in_the_documented_order(
    client: TestClient, factory: Factory
) -> None:
    boss = factory.user("Boss")
    for name in ("Carla", "Amir", "Carla", "Bea", "Amir"):
        factory.user(name, manager=boss)
    nameless = factory.user("Nameless", manager=boss)
    nameless.name = None
    factory.session.flush()
    assert_every_sort_walks_the_whole_list(client, "/v1/reps", SORTS["listReps"])


def test_nulls_come_last_ascending_and_first_descending(client: TestClient, coaching_rows: SfUser) -> None:
    path = f"/v1/reps/{coaching_rows.id}/action-items"
    ascending = [item["due_date"] for item in ok(client.get(path, params={"sort": "due_date"}))["items"]]
    descending = [item["due_date"] for item in ok(client.get(path, params={"sort": "-due_date"}))["items"]]
    assert ascending == ["2026-11-18", "2026-11-20", "2026-11-20", None, None]
    assert descending == [None, None, "2026-11-20", "2026-11-20", "2026-11-18"]
    # One row a page crosses the boundary between values and nulls both ways.
    assert walk(client, path, "due_date", limit=1) == expected_order(
        ok(client.get(path))["items"], "due_date"
    )
    assert walk(client, path, "-due_date", limit=1) == expected_order(
        ok(client.get(path))["items"], "-due_date"
    )


def test_an_unknown_sort_is_refused_naming_the_allowed_values(client: TestClient, factory: Factory) -> None:
    rep = factory.user("Rep", manager=factory.user("Boss"))
    paths = {
        "listReps": "/v1/reps",
        "listGoals": f"/v1/reps/{rep.id}/goals",
        "listSessions": f"/v1/reps/{rep.id}/sessions",
        "listActionItems": f"/v1/reps/{rep.id}/action-items",
    }
    for operation, path in paths.items():
        for bad in ("email", "--id", "name,-id", "+id"):
            refused = client.get(path, params={"sort": bad})
            assert (refused.status_code, refused.json()["code"]) == (422, "invalid_sort"), (path, bad)
            for allowed in SORTS[operation]:
                assert f"-{allowed}" in refused.json()["detail"], (path, allowed)
        # An empty `sort=` is no sort: the default order, as every empty query parameter.
        assert ok(client.get(path, params={"sort": ""})) == ok(client.get(path))


def test_a_cursor_continues_only_the_sort_it_was_issued_for(client: TestClient, factory: Factory) -> None:
    boss = factory.user("Boss")
    for name in ("Ana", "Ben", "Cy"):
        factory.user(name, manager=boss)
    by_name = ok(client.get("/v1/reps", params={"sort": "name", "limit": 1}))["next_cursor"]
    for other in ({"sort": "-name"}, {"sort": "id"}, {}):
        refused = client.get("/v1/reps", params={"cursor": by_name, **other})
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_cursor")
        assert "sort=name" in refused.json()["detail"]
    assert client.get("/v1/reps", params={"cursor": by_name, "sort": "name"}).status_code == 200


def test_the_openapi_document_lists_each_lists_sorts_as_an_enum() -> None:
    openapi = create_app(Settings()).openapi()
    operations = {
        operation["operationId"]: operation
        for methods in openapi["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for operation_id, fields in SORTS.items():
        (sort,) = [p for p in operations[operation_id]["parameters"] if p["name"] == "sort"]
        assert sorted(sort["schema"]["enum"]) == sorted([*fields, *(f"-{f}" for f in fields)])
        assert sort["schema"]["default"] == fields[0]
