"""Client-chosen sort on every list but the events feed (docs/api.md, "Sorting"): `sort=field` ascending,
`sort=-field` descending, ties by id in the same direction, nulls last ascending and first
descending (so `-field` is exactly the reverse of `field`); every page continues the sort its
cursor was issued for."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from salescoach_api.app import create_app
from salescoach_core.api_keys import create_api_key
from salescoach_core.integrations import events
from salescoach_core.integrations.signing import generate_secret
from salescoach_core.models import SfUser
from salescoach_core.models.integrations import WebhookDelivery, WebhookEndpoint
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.coaching.conftest import NOW, Team, new_item, new_session, ok
from tests.plugins.factories import Factory

# docs/api.md, "Sorting": each list's sortable fields, and its order without `sort`.
SORTS = {
    "listReps": ["id", "name"],
    "listGoals": ["created_at", "updated_at", "period_from", "closed_at"],
    "listSessions": ["scheduled_at", "created_at", "updated_at", "follow_up_at", "closed_at"],
    "listActionItems": ["created_at", "updated_at", "due_date", "completed_on"],
    "listApiKeys": ["prefix"],
    "listWebhooks": ["created_at"],
    "listWebhookDeliveries": ["created_at"],
}
DEFAULT_SORT = {operation: fields[0] for operation, fields in SORTS.items()} | {
    "listWebhookDeliveries": "-created_at"  # a log: newest first
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


def expected_order(rows: list[dict[str, Any]], sort: str, key: str = "id") -> list[str]:
    """The documented order, computed from the rows: nulls after every value, ties by id (the
    item's `key`); a leading `-` reverses all of it."""
    field = sort.removeprefix("-")
    ascending = sorted(
        rows,
        key=lambda row: (
            row[field] is None,
            _value(row[field]) if row[field] is not None else 0,
            _row_id(row[key]),
        ),
    )
    ids = [row[key] for row in ascending]
    return ids[::-1] if sort.startswith("-") else ids


def walk(client: TestClient, path: str, sort: str | None, limit: int = 2, key: str = "id") -> list[str]:
    """Every id (the items' `key`) of the list, page after page."""
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
        ids.extend(item[key] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def assert_every_sort_walks_the_whole_list(
    client: TestClient, path: str, operation: str, key: str = "id"
) -> list[str]:
    """Each sort of the list walked page by page gives every item once, in the documented order;
    returns the ids in the default order."""
    fields, default = SORTS[operation], DEFAULT_SORT[operation]
    full = ok(client.get(path, params={"limit": 500}))
    assert full["next_cursor"] is None
    rows = full["items"]
    assert [row[key] for row in rows] == expected_order(rows, default, key), "default order"
    for field in fields:
        values = [row[field] for row in rows]
        if field != key:
            assert len(set(values)) < len(values), f"{field}: the rows must have a tie to break"
            assert None in values or field not in NULLABLE, f"{field}: the rows must have a null"
        for sort in (field, f"-{field}"):
            walked = walk(client, path, sort, key=key)
            assert walked == expected_order(rows, sort, key), f"{path} sort={sort}"
    walked = walk(client, path, None, key=key)
    assert walked == expected_order(rows, default, key)
    return walked


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
    assert_every_sort_walks_the_whole_list(client, path.format(rep=coaching_rows.id), operation)


def test_every_sort_of_the_rep_list_pages_through_it_in_the_documented_order(
    client: TestClient, factory: Factory
) -> None:
    boss = factory.user("Boss")
    for name in ("Carla", "Amir", "Carla", "Bea", "Amir"):
        factory.user(name, manager=boss)
    nameless = factory.user("Nameless", manager=boss)
    nameless.name = None
    factory.session.flush()
    assert_every_sort_walks_the_whole_list(client, "/v1/reps", "listReps")


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


def test_an_unknown_sort_is_refused_naming_the_allowed_values(
    client: TestClient, factory: Factory, db_session: Session
) -> None:
    rep = factory.user("Rep", manager=factory.user("Boss"))
    endpoint = new_endpoint(db_session, NOW)
    paths = {
        "listReps": "/v1/reps",
        "listGoals": f"/v1/reps/{rep.id}/goals",
        "listSessions": f"/v1/reps/{rep.id}/sessions",
        "listActionItems": f"/v1/reps/{rep.id}/action-items",
        "listApiKeys": "/v1/api-keys",
        "listWebhooks": "/v1/webhooks",
        "listWebhookDeliveries": f"/v1/webhooks/{endpoint.id}/deliveries",
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
        assert sort["schema"]["default"] == DEFAULT_SORT[operation_id]


def new_endpoint(db_session: Session, created_at: datetime) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url="https://hooks.example.com/in", secret=generate_secret(), created_at=created_at
    )
    db_session.add(endpoint)
    db_session.flush()
    return endpoint


# Three at one instant (ties the id breaks), one before, one after.
INSTANTS = [NOW, NOW, NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1)]


def test_the_webhook_list_pages_oldest_first_ties_by_id(client: TestClient, db_session: Session) -> None:
    endpoints = [new_endpoint(db_session, at) for at in INSTANTS]
    walked = assert_every_sort_walks_the_whole_list(client, "/v1/webhooks", "listWebhooks")
    # Complete and disjoint: every endpoint once. By hand: the earlier one, the three of NOW by
    # id, the later one.
    tied = sorted(e.id for e in endpoints if e.created_at == NOW)
    assert walked == [str(i) for i in [endpoints[2].id, *tied, endpoints[4].id]]
    assert walk(client, "/v1/webhooks", None, limit=1) == walked
    assert walk(client, "/v1/webhooks", "-created_at", limit=1) == walked[::-1]


def test_a_delivery_log_pages_newest_first_ties_by_id(client: TestClient, db_session: Session) -> None:
    endpoint, other = new_endpoint(db_session, NOW), new_endpoint(db_session, NOW)
    for at in INSTANTS:  # each event queues one delivery to each endpoint, created when it occurred
        events.emit(db_session, "goal.created", {"at": at.isoformat()}, now=at)
    db_session.flush()
    mine = db_session.exec(
        select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id)
    ).all()
    path = f"/v1/webhooks/{endpoint.id}/deliveries"
    walked = assert_every_sort_walks_the_whole_list(client, path, "listWebhookDeliveries")
    # By hand: the later one, the three of NOW by id descending, the earlier one; none of `other`'s.
    by_time = {at: sorted((d.id for d in mine if d.created_at == at), reverse=True) for at in set(INSTANTS)}
    expected = [*by_time[NOW + timedelta(hours=1)], *by_time[NOW], *by_time[NOW - timedelta(hours=1)]]
    assert walked == [str(i) for i in expected]
    assert walk(client, path, None, limit=1) == walked
    assert walk(client, path, "created_at", limit=1) == walked[::-1]
    assert len(ok(client.get(f"/v1/webhooks/{other.id}/deliveries"))["items"]) == len(INSTANTS)


def _problem(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"request_id", "instance"}}


def test_a_cursor_of_the_former_time_and_id_format_is_refused_as_any_foreign_cursor(
    client: TestClient, factory: Factory, db_session: Session
) -> None:
    """Before webhooks and deliveries took `sort`, their cursor was base64url of
    `{created_at ISO 8601}|{id}`; a client holding one starts again, told so as for any cursor
    the API did not issue."""
    endpoint = new_endpoint(db_session, NOW)
    events.emit(db_session, "goal.created", {}, now=NOW)
    db_session.flush()
    (delivery,) = db_session.exec(
        select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id)
    )
    foreign = client.get("/v1/reps", params={"cursor": "bm9wZQ"})
    assert (foreign.status_code, foreign.json()["code"]) == (422, "invalid_cursor")
    for path, row in (("/v1/webhooks", endpoint), (f"/v1/webhooks/{endpoint.id}/deliveries", delivery)):
        old = base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode().rstrip("=")
        refused = client.get(path, params={"cursor": old})
        assert refused.status_code == 422, path
        # The same problem; only the request's own members differ.
        assert _problem(refused.json()) == _problem(foreign.json()), path


def test_every_sort_of_the_api_key_list_pages_through_it(client: TestClient, db_session: Session) -> None:
    for name in ("ci", "bi", "crm", "backup"):
        create_api_key(db_session, name=name, role=Role.INTEGRATION, sf_user_id=None)
    walked = assert_every_sort_walks_the_whole_list(client, "/v1/api-keys", "listApiKeys", key="prefix")
    assert len(walked) == 5  # the test's admin key and these four
    assert walked == sorted(walked)
