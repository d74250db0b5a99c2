"""Schemathesis over the whole OpenAPI document, authenticated as an admin: every operation, up to
25 generated requests each, must answer without a server error and as its schema says.

Schemathesis' own pytest loader (`from_fixture`) does not run under pytest 9, so each operation
is a parametrized test that draws its cases from the operation's Hypothesis strategy.

Every default check runs except `positive_data_acceptance`: it demands 2xx for any request
the schema allows, and some rules cannot be written in JSON Schema (a cursor must be one the
API issued; a rep key needs a user; a scorecard needs a period or a date range), so those
answer 422 problems by design.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
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
