"""One period contract (docs/api.md, "Periods"): every operation over a period takes `period` or
`from`/`to` with the same schemas, defaults to the running month in the org's zone, treats a
blank value as absent, and labels a calendar month or quarter by its name however it was asked."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from tests.plugins.factories import Factory

from salescoach_api.app import create_app
from salescoach_core.models import SfUser
from salescoach_core.settings import Settings

PERIOD_PARAMETERS = ("period", "from", "to")
# UTC+14 all year: for 14 hours around each month's end its running month is not UTC's.
ZONE = "Pacific/Kiritimati"
# Values for the other required query parameters of period-taking operations.
REQUIRED = {"metric": "won_amount"}


def _period_operations(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`METHOD /path` -> operation, for every operation taking any of period / from / to."""
    return {
        f"{method.upper()} {path}": operation
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        if {p["name"] for p in operation.get("parameters", [])} & set(PERIOD_PARAMETERS)
    }


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def test_every_period_taking_operation_takes_the_same_three_parameters(openapi: dict[str, Any]) -> None:
    operations = _period_operations(openapi)
    assert {
        "GET /v1/reps/{rep_id}/scorecard",
        "GET /v1/teams/{manager_id}/scorecards",
        "GET /v1/reps/{rep_id}/loss-analysis",
        "GET /v1/reps/{rep_id}/stage-conversion",
        "GET /v1/reps/{rep_id}/diagnosis",
        "GET /v1/reps/{rep_id}/trend",
        "GET /v1/exports/scorecards",
        "GET /v1/exports/sessions",
        "GET /v1/exports/action-items",
        "GET /v1/exports/goals",
    } <= operations.keys()
    first = next(iter(operations.values()))
    reference = {p["name"]: p for p in first["parameters"] if p["name"] in PERIOD_PARAMETERS}
    for name, operation in operations.items():
        taken = {p["name"]: p for p in operation["parameters"] if p["name"] in PERIOD_PARAMETERS}
        # Same names, in the query, optional, with identical schemas and descriptions.
        assert taken == reference, name
        # Each operation says what it does without a period.
        assert "Default period:" in operation["description"], name
    for parameter in reference.values():
        assert parameter["in"] == "query"
        assert parameter["required"] is False
        assert "running month" in parameter["description"]


def test_pipeline_takes_a_day_and_says_why_not_a_period(openapi: dict[str, Any]) -> None:
    operation = openapi["paths"]["/v1/reps/{rep_id}/pipeline"]["get"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["as_of"]
    assert "not a period" in operation["description"]


@pytest.fixture
def client_in(client_on_settings: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """A client on the app with the org in `zone`, in the test's transaction (exports too), its
    clock fixed at `now` when given, else the real one."""
    return lambda zone, now=None: client_on_settings(now=now, org_timezone=zone)


@pytest.fixture
def rep(factory: Factory) -> SfUser:
    return factory.user("Alice Adams", manager=factory.user("Maya Manager"))


def _url(path: str, rep: SfUser) -> str:
    assert rep.manager_id is not None
    return path.replace("{rep_id}", rep.id).replace("{manager_id}", rep.manager_id)


def _labels(response: Any) -> set[str]:
    """Every period label in a JSON body or in a CSV's `period` column."""
    if response.headers["content-type"].startswith("text/csv"):
        return {row["period"] for row in csv.DictReader(io.StringIO(response.text)) if "period" in row}
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("period"), dict):
                found.add(value["period"]["label"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(response.json())
    return found


def _running_month(zone: str) -> str:
    today = datetime.now(ZoneInfo(zone)).date()
    return f"{today.year:04d}-{today.month:02d}"


def _period_paths(openapi: dict[str, Any]) -> list[str]:
    return [name.removeprefix("GET ") for name in _period_operations(openapi)]


def test_without_a_period_every_operation_takes_the_running_month_in_the_org_zone(
    openapi: dict[str, Any], client_in: Callable[..., TestClient], rep: SfUser
) -> None:
    client = client_in(ZONE)
    for path in _period_paths(openapi):
        before = _running_month(ZONE)
        response = client.get(_url(path, rep), params=REQUIRED)
        after = _running_month(ZONE)
        assert response.status_code == 200, (path, response.text)
        labels = _labels(response)
        if path.startswith("/v1/exports/") and path != "/v1/exports/scorecards":
            # Record exports: the period is a filter, and none means every record.
            assert labels == set(), path
        else:
            # The label is the running month there (either side of a month's end during the call).
            assert len(labels) == 1, (path, labels)
            assert labels <= {before, after}, (path, labels)


def test_the_running_month_is_the_org_zones_not_utcs(
    openapi: dict[str, Any], client_in: Callable[..., TestClient], rep: SfUser
) -> None:
    # 30 November 20:00 UTC is 1 December 10:00 at UTC+14.
    client = client_in(ZONE, now=datetime(2026, 11, 30, 20, tzinfo=UTC))
    card = client.get(_url("/v1/reps/{rep_id}/scorecard", rep)).json()
    assert card["period"] == {
        "label": "2026-12",
        "kind": "month",
        "from": "2026-12-01",
        "to": "2027-01-01",
        "timezone": ZONE,
    }


@pytest.mark.parametrize(
    "blank", [{"period": ""}, {"from": "", "to": ""}, {"period": "", "from": "", "to": ""}]
)
def test_a_blank_period_is_no_period(
    openapi: dict[str, Any], client_in: Callable[..., TestClient], rep: SfUser, blank: dict[str, str]
) -> None:
    client = client_in(ZONE, now=datetime(2026, 11, 30, 20, tzinfo=UTC))
    for path in _period_paths(openapi):
        absent = client.get(_url(path, rep), params=REQUIRED)
        empty = client.get(_url(path, rep), params={**REQUIRED, **blank})
        assert empty.status_code == absent.status_code == 200, (path, empty.text)
        assert empty.content == absent.content, path


def test_from_to_of_a_quarter_is_labelled_as_the_quarter_in_rest_and_in_exports(
    client_in: Callable[..., TestClient], rep: SfUser
) -> None:
    client = client_in("UTC")
    quarter = {"from": "2026-10-01", "to": "2027-01-01"}

    card = client.get(_url("/v1/reps/{rep_id}/scorecard", rep), params=quarter).json()
    named = client.get(_url("/v1/reps/{rep_id}/scorecard", rep), params={"period": "2026-Q4"}).json()
    export = client.get("/v1/exports/scorecards", params={**quarter, "format": "csv"})

    assert card["period"] == {
        "label": "2026-Q4",
        "kind": "quarter",
        "from": "2026-10-01",
        "to": "2027-01-01",
        "timezone": "UTC",
    }
    assert card == named
    assert _labels(export) == {"2026-Q4"}


@pytest.mark.parametrize(
    ("bounds", "label", "kind"),
    [
        (("2026-10-01", "2026-11-01"), "2026-10", "month"),
        (("2026-12-01", "2027-01-01"), "2026-12", "month"),
        (("2026-11-01", "2027-02-01"), "2026-11-01..2027-02-01", "range"),  # three months, not a quarter
        (("2026-01-01", "2027-01-01"), "2026-01-01..2027-01-01", "range"),  # a year
        (("2026-10-05", "2026-11-05"), "2026-10-05..2026-11-05", "range"),
    ],
)
def test_other_ranges_keep_a_range_label(
    client_in: Callable[..., TestClient], rep: SfUser, bounds: tuple[str, str], label: str, kind: str
) -> None:
    client = client_in("UTC")
    params = {"from": bounds[0], "to": bounds[1]}
    card = client.get(_url("/v1/reps/{rep_id}/loss-analysis", rep), params=params).json()
    export = client.get("/v1/exports/scorecards", params=params)
    assert (card["period"]["label"], card["period"]["kind"]) == (label, kind)
    assert _labels(export) == {label}


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"period": "2026-10", "from": "2026-10-01", "to": "2026-11-01"}, "not both"),
        ({"from": "2026-10-01"}, "give `to` too"),
        ({"period": "", "to": "2026-11-01"}, "give `from` too"),
        ({"period": "October"}, "neither a month (2026-10) nor a quarter (2026-Q4)"),
    ],
)
def test_a_period_that_cannot_be_read_is_422_saying_what_to_send(
    openapi: dict[str, Any],
    client_in: Callable[..., TestClient],
    rep: SfUser,
    params: dict[str, str],
    says: str,
) -> None:
    client = client_in("UTC")
    for path in _period_paths(openapi):
        response = client.get(_url(path, rep), params={**REQUIRED, **params})
        assert response.status_code == 422, path
        assert response.json()["code"] == "invalid_period", path
        assert says in response.json()["detail"], path
