"""Bad input, everywhere the OpenAPI document says input goes: every operation's path and query
parameters and every field of its JSON body (nested objects, lists and free-form JSON included)
gets NUL characters, lone surrogates, overflowing numbers, out-of-range dates and oversize
values. Each probe must answer 422 problem+json whose `errors[]` names the probed location
(never a 5xx, never a row stored), and afterwards every list and the sessions export still read.

The document is the app's own (`app.openapi()`), so a new operation or field is probed the day it
is added; the `path_values` fixture (tests/plugins/auth.py) names a usable value for each path
parameter, so every probe reaches the validation it tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from salescoach_api.app import create_app
from salescoach_api.auth.policy import PUBLIC_PATHS
from salescoach_api.limits import MULTIPART_OVERHEAD_BYTES
from salescoach_api.quotas.router import MAX_UPLOAD_BYTES
from salescoach_core.settings import Settings
from tests.plugins.auth import Org

OPENAPI = create_app(Settings()).openapi()
SCHEMAS: dict[str, Any] = OPENAPI["components"]["schemas"]
PROBLEM = "application/problem+json"

NUL = "before\x00after"
SURROGATE = "lone \ud800 surrogate"
HUGE_NUMBERS: tuple[Any, ...] = (1e308, -1e308, float("nan"))
OUT_OF_RANGE_INSTANTS = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")
OUT_OF_RANGE_DAYS = ("0001-01-01", "9999-12-31")
# Free-form JSON (what-if scenarios): what PostgreSQL's jsonb or a JSON reader cannot take back.
FREE_JSON_PROBES: tuple[Any, ...] = (
    {NUL: 1},
    {"key": SURROGATE},
    {"key": {"deeper": [NUL]}},
    {"key": float("nan")},
    {"key": 10**400},
    {"key": "x" * 20_000},
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    @property
    def json_body(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        schema: dict[str, Any] | None = content.get("application/json", {}).get("schema")
        return schema

    @property
    def has_body(self) -> bool:
        return "requestBody" in self.spec


OPERATIONS = [
    Operation(method, path, spec)
    for path, methods in OPENAPI["paths"].items()
    if path not in PUBLIC_PATHS
    for method, spec in methods.items()
]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a schema (`X | None` is an anyOf with null)."""
    schema = resolve(schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        return [v for alt in alternatives for v in variants(alt)]
    return [] if schema.get("type") == "null" else [schema]


def scalar_probes(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(label, value) for one scalar schema."""
    kind = schema.get("type")
    if kind == "string":
        yield "nul", NUL
        yield "surrogate", SURROGATE
        if "maxLength" in schema:
            yield "over_max_length", "x" * (schema["maxLength"] + 1)
        if schema.get("format") == "date-time":
            yield from (("instant_out_of_range", v) for v in OUT_OF_RANGE_INSTANTS)
        if schema.get("format") == "date":
            yield from (("day_out_of_range", v) for v in OUT_OF_RANGE_DAYS)
    elif kind in ("number", "integer"):
        yield from (("huge_number", v) for v in HUGE_NUMBERS)


def body_probes(schema: dict[str, Any], loc: Loc, depth: int = 0) -> Iterator[tuple[Loc, str, Any]]:
    """(location, label, value) of every probe of a body schema, locations as pydantic names them."""
    assert depth < 10, f"schema nested too deep at {loc}"
    for variant in variants(schema):
        kind = variant.get("type")
        if kind == "object" or "properties" in variant:
            for name, field in variant.get("properties", {}).items():
                yield from body_probes(field, (*loc, name), depth + 1)
            # A dict keyed by a typed key (an id) is documented as patternProperties.
            extra = next(
                iter(variant.get("patternProperties", {}).values()), variant.get("additionalProperties")
            )
            free_form = kind == "object" and not variant.get("properties") and extra is None
            if extra is True or extra == {} or free_form:
                yield from ((loc, "free_json", probe) for probe in FREE_JSON_PROBES)
            elif isinstance(extra, dict):
                yield loc, "nul_key", {NUL: {}}
                yield from body_probes(extra, (*loc, "key"), depth + 1)
        elif kind == "array":
            yield from body_probes(variant.get("items", {}), (*loc, 0), depth + 1)
        else:
            for label, value in scalar_probes(variant):
                yield loc, label, value


def nest(loc: Loc, value: Any) -> Any:
    """The body holding `value` at `loc` (without the leading "body")."""
    for part in reversed(loc):
        value = [value] if isinstance(part, int) else {part: value}
    return value


@dataclass(frozen=True)
class Probe:
    operation: Operation
    where: str
    loc: Loc
    label: str
    value: Any

    @property
    def id(self) -> str:
        return f"{self.operation.name} {'.'.join(map(str, self.loc))} {self.label}"


def probes() -> Iterator[Probe]:
    for op in OPERATIONS:
        for where in ("path", "query"):
            for parameter in op.parameters(where):
                loc: Loc = (where, parameter["name"])
                schema = parameter["schema"]
                items = [v.get("items", {}) if v.get("type") == "array" else v for v in variants(schema)]
                seen: set[str] = set()
                for variant in items:
                    for label, value in scalar_probes(resolve(variant)):
                        # A path segment is text on the wire: only the text probes apply.
                        if where == "path" and label not in ("nul", "surrogate"):
                            continue
                        if label == "over_max_length" or f"{label}{value}" in seen:
                            continue
                        seen.add(f"{label}{value}")
                        yield Probe(op, where, loc, label, value)
        if op.json_body is not None:
            for loc, label, value in body_probes(op.json_body, ()):
                yield Probe(op, "body", ("body", *loc), label, value)


PROBES = list(probes())


def _quote(value: str) -> str:
    # A URL carries bytes: a lone surrogate goes as its (invalid) UTF-8 bytes, as a client would send it.
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _url(op: Operation, path_values: dict[str, str], override: tuple[str, str] | None = None) -> str:
    url = op.path
    for parameter in op.parameters("path"):
        name = parameter["name"]
        assert name in path_values, f"{op.name}: add a valid value for {{{name}}} to the path_values fixture"
        value = override[1] if override and override[0] == name else path_values[name]
        url = url.replace(f"{{{name}}}", _quote(value))
    return url


def _send(client: TestClient, probe: Probe, path_values: dict[str, str]) -> Any:
    op = probe.operation
    override = (str(probe.loc[1]), probe.value) if probe.where == "path" else None
    url = _url(op, path_values, override)
    if probe.where == "query":
        url += f"?{probe.loc[1]}={_quote(str(probe.value))}"
    content = None
    if probe.where == "body":
        # json.dumps escapes a lone surrogate as "\ud800" and writes NaN: bytes a client can send.
        content = json.dumps(nest(probe.loc[1:], probe.value)).encode()
    elif op.json_body is not None and "required" in op.spec["requestBody"]:
        content = b"{}"
    headers = {"Content-Type": "application/json"} if content is not None else {}
    if op.method == "post":
        # Through the idempotency middleware too, which records the request before routing.
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return client.request(op.method.upper(), url, content=content, headers=headers)


def _on_branch(error_loc: list[str | int], probed: Loc) -> bool:
    """The error is at the probed location, inside it, or at the field holding it."""
    shorter = min(len(error_loc), len(probed))
    return shorter >= 2 and tuple(error_loc[:shorter]) == probed[:shorter]


def test_the_walk_covers_every_kind_of_input() -> None:
    # Guards the walker itself: if the document's shapes stopped being recognised, it would
    # silently probe nothing.
    kinds = {(p.where, p.label) for p in PROBES}
    for expected in [
        ("path", "nul"),
        ("query", "nul"),
        ("query", "huge_number"),
        ("query", "day_out_of_range"),
        ("body", "nul"),
        ("body", "surrogate"),
        ("body", "huge_number"),
        ("body", "instant_out_of_range"),
        ("body", "day_out_of_range"),
        ("body", "over_max_length"),
        ("body", "free_json"),
        ("body", "nul_key"),
    ]:
        assert expected in kinds, expected
    assert len({p.operation.name for p in PROBES if p.where == "body"}) >= 12


def test_every_probe_is_a_422_naming_its_location_and_the_records_still_read(
    app: FastAPI, client: TestClient, export_client: TestClient, path_values: dict[str, str], org: Org
) -> None:
    failures = []
    for probe in PROBES:
        response = _send(client, probe, path_values)
        body = response.json() if response.headers.get("content-type", "").startswith(PROBLEM) else None
        locs = [e["loc"] for e in (body or {}).get("errors") or []]
        if probe.where != "body" and probe.label == "surrogate":
            # The server decodes invalid UTF-8 in a URL to U+FFFD: no surrogate arrives, only a
            # value that must be refused like any other malformed one.
            named = 400 <= response.status_code < 500
        else:
            named = response.status_code == 422 and any(_on_branch(loc, probe.loc) for loc in locs)
        if body is None or not named:
            failures.append(f"{probe.id}: {response.status_code} {response.text[:300]}")
    assert failures == [], f"{len(failures)} of {len(PROBES)} probes:\n" + "\n".join(failures)

    for path in (
        f"/v1/reps/{org.rep_a1.id}/sessions",
        f"/v1/reps/{org.rep_a1.id}/goals",
        f"/v1/reps/{org.rep_a1.id}/action-items",
        f"/v1/reps/{org.rep_a1.id}/plan",
        "/v1/reps",
        "/v1/webhooks",
        "/v1/activity-requirements",
        "/v1/exports/sessions",
        "/v1/exports/action-items",
        "/v1/exports/goals",
    ):
        answer = export_client.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])


def test_every_free_text_field_of_a_request_body_is_capped_in_the_schema() -> None:
    uncapped = sorted(
        {
            f"{p.operation.name} {'.'.join(map(str, p.loc))}"
            for p in PROBES
            if p.where == "body" and p.label == "nul" and not _capped(p)
        }
    )
    assert uncapped == []


def _capped(probe: Probe) -> bool:
    return any(p.loc == probe.loc and p.label == "over_max_length" for p in PROBES) or _is_constrained(probe)


def _is_constrained(probe: Probe) -> bool:
    schema: dict[str, Any] = {"anyOf": [probe.operation.json_body or {}]}
    for part in probe.loc[1:]:
        found: dict[str, Any] = {}
        for variant in variants(schema):
            if isinstance(part, int):
                found = variant.get("items", {})
            elif part in variant.get("properties", {}):
                found = variant["properties"][part]
            elif variant.get("patternProperties"):
                found = next(iter(variant["patternProperties"].values()))
            elif isinstance(variant.get("additionalProperties"), dict):
                found = variant["additionalProperties"]
        schema = found
    # An enum, a pattern or a date format bounds the text; a decimal also accepts a numeric string.
    kinds = variants(schema)
    numeric = any(v.get("type") in ("number", "integer") for v in kinds)
    return numeric or all("enum" in v or "pattern" in v or "format" in v for v in kinds)


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.has_body], ids=lambda op: op.name)
def test_an_oversize_body_is_413_before_authentication(app: FastAPI, op: Operation, org: Org) -> None:
    limit = Settings().max_request_body_bytes
    if "multipart/form-data" in op.spec["requestBody"]["content"]:
        limit = MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
    # Valid JSON, so nothing but its size can be what is refused.
    oversize = b'{"notes": "' + b"x" * limit + b'"}'
    with TestClient(app, raise_server_exceptions=False) as anonymous:
        response = anonymous.request(
            op.method.upper(),
            _url(op, {name: "0" for name in (p["name"] for p in op.parameters("path"))}),
            content=oversize,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "request_too_large"
