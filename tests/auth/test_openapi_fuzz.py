"""Schemathesis over the whole OpenAPI document, authenticated as an admin: every operation, up to
25 generated requests each, must answer without a server error and as its schema says.

Schemathesis' own pytest loader (`from_fixture`) does not run under pytest 9, so each operation
is a parametrized test that draws its cases from the operation's Hypothesis strategy.

Every default check runs except `positive_data_acceptance`: it demands 2xx for any request
the schema allows, and some rules cannot be written in JSON Schema (a cursor must be one the
API issued; a rep key needs a user; a scorecard needs a period or a date range), so those
answer 422 problems by design.

Schemathesis draws text from what the wire can carry, without lone surrogates, and numbers and
dates within the schema's bounds. The second test mutates each generated request: one text,
number or date of its body or query becomes a NUL, a lone surrogate, an overflowing or
non-finite number or an out-of-range date-time, and the answer must be a 4xx problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from salescoach_api.app import create_app
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.auth.access_matrix import operations
from tests.plugins.auth import Org, RoleKeys

MAX_EXAMPLES = 25
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
OPERATIONS = [
    pytest.param(
        method,
        path,
        id=f"{method} {path}",
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[method, path])]
        if (method, path) in KNOWN_FAILURES
        else [],
    )
    for method, path, _ in operations(create_app(Settings()).openapi())
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_operation_conforms_to_its_schema_without_server_errors(
    app: FastAPI, org: Org, role_keys: RoleKeys, method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    admin = role_keys.headers(Role.ADMIN)
    examples: list[Any] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        # The app and its database transaction are per test, shared by every example on purpose.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def call(case: schemathesis.Case) -> None:
        examples.append(case)
        case.call_and_validate(headers=admin, excluded_checks=[positive_data_acceptance])

    call()
    # Shown with `pytest -s`: the figures of the run.
    print(f"schemathesis {method} {path}: {len(examples)} examples")
    assert examples


ABUSE_EXAMPLES = 10
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Refused wherever they appear; an overflowing but finite float is a valid JSON number in
# free-form JSON, so for it only "no server error" holds.
REFUSED_TEXT = ["nul \x00 here", "lone \ud800 surrogate"]
REFUSED_NUMBERS: list[Any] = [float("nan"), float("inf"), 10**400]
NOT_A_SERVER_ERROR_NUMBERS: list[Any] = [1e308, -1e308]
OUT_OF_RANGE_INSTANTS = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]
OUT_OF_RANGE_DAYS = ["0001-01-01", "9999-12-31"]
OPENAPI = create_app(Settings()).openapi()
ABUSED_OPERATIONS = [
    pytest.param(method, path, id=f"{method} {path}")
    for method, path, _ in operations(OPENAPI)
    if path.startswith("/v1/")
]


def _resolve(schema: dict[str, Any]) -> list[dict[str, Any]]:
    while "$ref" in schema:
        schema = OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    return [v for alt in alternatives for v in _resolve(alt)] if alternatives else [schema]


def _documented(schema: dict[str, Any], path: tuple[Any, ...]) -> bool:
    """Whether the body keeps the value at `path`: schemathesis adds undocumented properties,
    which the API ignores (never stores), so abusing them proves nothing."""
    if not path:
        return True
    head, rest = path[0], path[1:]
    for variant in _resolve(schema):
        if isinstance(head, int) and "items" in variant:
            return _documented(variant["items"], rest)
        if head in variant.get("properties", {}):
            return _documented(variant["properties"][head], rest)
        keyed = list(variant.get("patternProperties", {}).values())
        if keyed or isinstance(variant.get("additionalProperties"), dict):
            return _documented(keyed[0] if keyed else variant["additionalProperties"], rest)
        if variant.get("additionalProperties") is True:
            return True
    return False


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield path, value


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


def _abuses(leaf: Any, *, in_query: bool) -> list[tuple[Any, bool]]:
    """(replacement, must be refused) for one leaf; a URL carries no surrogate, nor NaN."""
    if isinstance(leaf, str):
        text = REFUSED_TEXT[:1] if in_query else REFUSED_TEXT
        dates = OUT_OF_RANGE_INSTANTS if DATE_TIME.match(leaf) else []
        dates += OUT_OF_RANGE_DAYS if DAY.match(leaf) else []
        return [(v, True) for v in [*text, *dates]]
    if in_query:
        return [("1e308", True)]
    return [(v, True) for v in REFUSED_NUMBERS] + [(v, False) for v in NOT_A_SERVER_ERROR_NUMBERS]


def _url(case: schemathesis.Case) -> str:
    pairs = [(k, v) for k, vs in (case.query or {}).items() for v in (vs if isinstance(vs, list) else [vs])]
    # Bytes as a client sends them: no encoder in between that would refuse what is being tested.
    query = "&".join(f"{quote(str(k))}={quote(str(v).encode('utf-8', 'surrogatepass'))}" for k, v in pairs)
    return case.formatted_path + (f"?{query}" if query else "")


@pytest.mark.parametrize(("method", "path"), ABUSED_OPERATIONS)
def test_abusive_text_numbers_and_dates_are_refused_without_server_errors(
    app: FastAPI, client: TestClient, path_values: dict[str, str], method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    body_schema = OPENAPI["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    body_schema = body_schema.get("application/json", {}).get("schema")
    abused: list[str] = []

    @given(case=operation.as_strategy(), data=st.data())
    @settings(
        max_examples=ABUSE_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def call(case: schemathesis.Case, data: st.DataObject) -> None:
        json_body = body_schema is not None and isinstance(case.body, dict | list)
        places = [("body", p, v) for p, v in _leaves(case.body) if json_body and _documented(body_schema, p)]
        places += [("query", (name,), v) for name, v in (case.query or {}).items() if not isinstance(v, list)]
        if not places:
            return
        # Records that exist, so the request reaches the validation of what is abused.
        case.path_parameters = {name: path_values[name] for name in case.path_parameters or {}}
        where, at, leaf = data.draw(st.sampled_from(places))
        new, refused = data.draw(st.sampled_from(_abuses(leaf, in_query=where == "query")))
        if where == "body":
            case.body = _replace(case.body, at, new)
        else:
            case.query = {**(case.query or {}), at[0]: new}
        # json.dumps writes a lone surrogate as "\ud800" and NaN as NaN: bytes a client can send.
        content = json.dumps(case.body).encode() if json_body else None
        response = client.request(
            method,
            _url(case),
            content=content,
            headers={"Content-Type": "application/json"} if content is not None else None,
        )
        abused.append(f"{where} {at} = {new!r}: {response.status_code}")
        assert response.status_code < 500, abused[-1] + " " + response.text[:300]
        if refused:
            assert 400 <= response.status_code < 500, abused[-1] + " " + response.text[:300]
            assert response.headers["content-type"].startswith("application/problem+json"), abused[-1]

    call()
    print(f"abused {method} {path}: {len(abused)} examples")
