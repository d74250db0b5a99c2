"""A problem of our own about a path, query or header parameter names that parameter in
`errors[].loc` as FastAPI's own 422s do (`["query", "period"]`), so a client can show the
message next to the input at fault (docs/errors.md)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.plugins.auth import Org

GOAL = {"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "ride-alongs"}


def encode_cursor(key: str) -> str:
    """A cursor in the API's form (unpadded URL-safe base64 of a key), made here by hand."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def assert_locates(response: httpx.Response, code: str, *locs: list[str]) -> None:
    """The problem is `code`, and `errors[]` has one entry per parameter at fault, in that
    order, each the shape of a FastAPI validation error: its `msg` the problem's `detail`,
    its `type` the code."""
    body = response.json()
    assert (response.status_code, body["code"]) == (body["status"], code), body
    assert body["errors"] == [{"loc": loc, "msg": body["detail"], "type": code} for loc in locs], body


@pytest.mark.parametrize(
    ("params", "locs"),
    [
        ({"period": "October"}, [["query", "period"]]),
        ({"period": "2026-10", "from": "2026-10-01"}, [["query", "period"], ["query", "from"]]),
        (
            {"period": "2026-10", "from": "2026-10-01", "to": "2026-11-01"},
            [["query", "period"], ["query", "from"], ["query", "to"]],
        ),
        ({"from": "2026-10-01"}, [["query", "to"]]),
        ({"period": "", "to": "2026-11-01"}, [["query", "from"]]),
        ({"from": "2026-11-01", "to": "2026-10-01"}, [["query", "to"]]),
        ({"from": "2026-11-01", "to": "2026-11-01"}, [["query", "to"]]),
    ],
)
def test_invalid_period_names_the_period_parameter_at_fault(
    client: TestClient, org: Org, params: dict[str, str], locs: list[list[str]]
) -> None:
    for path in (f"/v1/reps/{org.rep_a1.id}/scorecard", "/v1/exports/scorecards"):
        assert_locates(client.get(path, params=params), "invalid_period", *locs)


def test_invalid_sort_names_sort(client: TestClient, org: Org) -> None:
    assert_locates(client.get("/v1/reps", params={"sort": "salary"}), "invalid_sort", ["query", "sort"])


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",  # not a cursor at all
        encode_cursor("not json"),  # ours in form, not in content
        encode_cursor('["-name", "Amy Rep", "005000000000001AAA"]'),  # another sort's
    ],
)
def test_invalid_cursor_names_cursor(client: TestClient, org: Org, cursor: str) -> None:
    response = client.get("/v1/reps", params={"cursor": cursor, "sort": "name"})
    assert_locates(response, "invalid_cursor", ["query", "cursor"])


@pytest.mark.parametrize("name", ["cursor", "after"])
def test_invalid_cursor_of_the_event_feed_names_the_parameter_it_came_in(
    client: TestClient, name: str
) -> None:
    assert_locates(client.get("/v1/events", params={name: "x"}), "invalid_cursor", ["query", name])


@pytest.mark.parametrize(
    ("params", "locs"),
    [
        # 37 months: the trend covers at most 36.
        ({"from": "2020-01-01", "to": "2023-02-01"}, [["query", "from"], ["query", "to"]]),
    ],
)
def test_invalid_trend_names_the_period_parameters(
    client: TestClient, org: Org, params: dict[str, str], locs: list[list[str]]
) -> None:
    response = client.get(f"/v1/reps/{org.rep_a1.id}/trend", params={"metric": "won_amount", **params})
    assert_locates(response, "invalid_trend", *locs)


def test_invalid_month_names_the_month_path_parameter(client: TestClient, org: Org) -> None:
    response = client.put(f"/v1/reps/{org.rep_a1.id}/quotas/2026-13", json={"amount": 1000})
    assert_locates(response, "invalid_month", ["path", "month"])


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/reps/{id}", "rep_id"),
        ("/v1/reps/{id}/scorecard", "rep_id"),
        ("/v1/teams/{id}/scorecards", "manager_id"),
    ],
)
def test_invalid_id_in_the_path_names_the_path_parameter(
    client: TestClient, org: Org, path: str, name: str
) -> None:
    response = client.get(path.format(id="not-an-id"))
    assert_locates(response, "invalid_id", ["path", name])


def _goal(org: Org, **changes: Any) -> dict[str, Any]:
    return {**GOAL, "coach_id": org.manager_a.id, **changes}


def test_invalid_idempotency_key_names_the_header(idem_client: TestClient, org: Org) -> None:
    response = idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals", json=_goal(org), headers={"Idempotency-Key": "k" * 256}
    )
    # The header's name as FastAPI places a header parameter: lower case.
    assert_locates(response, "invalid_idempotency_key", ["header", "idempotency-key"])


def test_idempotency_key_reused_names_the_header(idem_client: TestClient, org: Org) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=_goal(org), headers=key)
    assert first.status_code == 201
    other = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=_goal(org, skill="closing"), headers=key)
    assert_locates(other, "idempotency_key_reused", ["header", "idempotency-key"])


def test_a_body_field_problem_keeps_its_body_loc(client: TestClient, org: Org) -> None:
    # A well-formed id of someone who is not above the rep.
    response = client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=_goal(org, coach_id=org.rep_a2.id))
    assert_locates(response, "invalid_coach_id", ["body", "coach_id"])
