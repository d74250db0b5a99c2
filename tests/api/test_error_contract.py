"""The OpenAPI document documents every operation's error responses: each status it can answer
with, as a Problem (`application/problem+json`), with the codes that status carries there; and
every code has one status and one title, each listed in docs/errors.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from salescoach_api.app import create_app
from salescoach_api.error_responses import CODES_EXTENSION, RAISED
from salescoach_api.path_ids import NOT_FOUND, VALUES
from salescoach_api.problems import PROBLEM_MEDIA_TYPE, problem_catalog
from salescoach_core.settings import Settings

ROOT = Path(__file__).parents[2]
OPENAPI = create_app(Settings()).openapi()
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
CATALOG = problem_catalog()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in OPENAPI["paths"].items()
        for method, operation in item.items()
    ]


def codes_of(operation: dict[str, Any], status: int) -> list[str]:
    response = operation["responses"].get(str(status))
    return list(response[CODES_EXTENSION]) if response else []


def missing_statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The statuses the operation must document, by what it takes, that it does not."""
    parameters = operation.get("parameters", [])
    expected: set[int] = set()
    if "x-access" in operation:  # authenticated and rate limited, and the credential is looked up
        expected |= {401, 403, 429, 503}
    if path == "/readyz":
        expected.add(503)
    if parameters or "requestBody" in operation:
        expected.add(422)
    if "requestBody" in operation:
        expected.add(413)
    if any(p["in"] == "path" and p["name"] in NOT_FOUND for p in parameters):
        expected.add(404)
    if method == "POST" and path.startswith("/v1/"):  # Idempotency-Key
        expected |= {400, 409, 422}
    return {status for status in expected if str(status) not in operation["responses"]}


def test_every_operation_documents_the_error_statuses_it_can_answer_with() -> None:
    gaps = {
        f"{method} {path}": sorted(missing)
        for method, path, operation in operations()
        if (missing := missing_statuses(method, path, operation))
    }
    assert gaps == {}


def test_every_error_response_is_a_problem_listing_codes_of_its_status() -> None:
    wrong = []
    for method, path, operation in operations():
        for status, response in operation["responses"].items():
            if status[0] not in "45" or status.endswith("XX"):
                continue
            where = f"{method} {path} {status}"
            if response["content"].get(PROBLEM_MEDIA_TYPE, {}).get("schema") != PROBLEM_REF:
                wrong.append(f"{where}: not the Problem schema as {PROBLEM_MEDIA_TYPE}")
            codes = response.get(CODES_EXTENSION, [])
            if not codes:
                wrong.append(f"{where}: no {CODES_EXTENSION}")
            wrong += [
                f"{where}: `{code}` is a {CATALOG[code].status if code in CATALOG else 'unknown'} code"
                for code in codes
                if code not in CATALOG or CATALOG[code].status != int(status)
            ]
            wrong += [
                f"{where}: description omits `{code}`"
                for code in codes
                if f"`{code}`" not in response["description"]
            ]
    assert wrong == []


def test_a_path_id_documents_its_own_not_found_code() -> None:
    wrong = []
    for method, path, operation in operations():
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            if parameter["in"] != "path" or name in VALUES:
                continue
            if name not in NOT_FOUND:
                wrong.append(f"{method} {path}: path parameter {name} is in neither NOT_FOUND nor VALUES")
            elif NOT_FOUND[name].code not in codes_of(operation, 404):
                wrong.append(f"{method} {path}: 404 omits `{NOT_FOUND[name].code}`")
    assert wrong == []


@pytest.mark.parametrize(
    ("operation_id", "status", "code"),
    [
        ("getRep", 404, "rep_not_found"),
        ("getTeam", 404, "manager_not_found"),
        ("getTeamScorecards", 404, "manager_not_found"),
        ("revokeApiKey", 404, "api_key_not_found"),
        ("createGoal", 409, "goal_limit_reached"),
        ("createGoal", 403, "cannot_coach_self"),
        ("holdSession", 422, "follow_up_required"),
        ("updateActionItem", 403, "coach_owned_action_item"),
        ("createWebhook", 409, "response_not_replayable"),
        ("listReps", 422, "invalid_cursor"),
        ("getRepScorecard", 422, "invalid_period"),
        ("getRepScorecard", 422, "date_out_of_range"),
        ("createSession", 422, "json_too_deep"),
        ("getReadiness", 503, "migrations_pending"),
        ("getMe", 503, "database_unavailable"),
    ],
)
def test_specific_codes_are_documented_where_they_arise(operation_id: str, status: int, code: str) -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in operations()}
    assert code in codes_of(by_id[operation_id], status)


def test_codes_raised_by_services_are_listed_for_real_operations() -> None:
    ids = {operation["operationId"] for _, _, operation in operations()}
    assert set(RAISED) - ids == set()
    assert {code for codes in RAISED.values() for code in codes} - set(CATALOG) == set()


NOT_EXTENSIONS = {"field", "inputs", "headers", "token_sent", "retry_after_seconds"}


def extension_members_raised() -> set[str]:
    """Keyword arguments of every `raise SomethingError(...)` in the API and the core: the
    extension members of problems."""
    found = set()
    for package in ("shared/salescoach_core", "services/api/salescoach_api"):
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                    found |= {k.arg for k in node.exc.keywords if k.arg} - NOT_EXTENSIONS
    return found


def test_the_problem_schema_declares_every_extension_member() -> None:
    declared = set(OPENAPI["components"]["schemas"]["Problem"]["properties"])
    assert {"active_goals", "missing", "errors", "row_errors", "baseline"} <= declared
    assert extension_members_raised() - declared == set()


DOC_ROW = re.compile(r"^\| `(?P<code>[a-z_]+)` \| (?P<status>\d{3}) \| (?P<title>[^|]+?) \|", re.MULTILINE)


def test_docs_list_every_code_with_its_status_and_title() -> None:
    documented = {
        m["code"]: (int(m["status"]), m["title"])
        for m in DOC_ROW.finditer((ROOT / "docs" / "errors.md").read_text())
    }
    assert documented == {code: (problem.status, problem.title) for code, problem in CATALOG.items()}
