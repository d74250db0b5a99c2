"""The error responses of every operation in the OpenAPI document, derived from its route.

Each operation documents each error status it can answer with (the Problem schema, as
`application/problem+json`) and, in `x-codes` and the description, the codes that status
carries there. Most follow from what the route depends on, so a new route is documented by
being written:

| the route has                         | documented                                           |
|---------------------------------------|------------------------------------------------------|
| a credential (`get_principal`)        | 401, 403, 429; 503 when the IdP or rate store fails  |
| a database session or engine          | 503 `database_unavailable`, `database_busy`          |
| a request body                        | 413 `request_too_large`, 422 `validation_failed`     |
| path, query or header parameters      | 422 `validation_failed`                              |
| the check of every path and query value | 422 `invalid_text`                                 |
| inputs of a kind (in their schema)    | 422 `invalid_text`, `invalid_id`, `date_out_of_range`... |
| a path id (salescoach_api.path_ids)   | 404 with that id's code (`rep_not_found`...)         |
| `Idempotency-Key` (a `/v1` POST)      | 400, 409, 422 of salescoach_api.idempotency          |
| paging, `sort`, a period              | 422 `invalid_cursor`, `invalid_sort`, `invalid_period` |
| a coaching write (`Access.REP_WRITE`) | 403 `cannot_coach_self`                              |
| `If-Match` (salescoach_api.versions)  | 400 `invalid_if_match`, 412 `precondition_failed`    |

What an operation's service raises beyond that is `RAISED`, by operation id, in this one place.
"""

from __future__ import annotations

from collections import defaultdict
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from salescoach_api.auth.dependencies import get_principal
from salescoach_api.auth.policy import Access, AccessCheck
from salescoach_api.dependencies import (
    dependency_calls,
    get_db_session,
    get_engine_dep,
    reject_unstorable_parameters,
)
from salescoach_api.idempotency import secret_fields
from salescoach_api.pagination import get_pagination
from salescoach_api.path_ids import NOT_FOUND, PEOPLE
from salescoach_api.periods import get_period_filter
from salescoach_api.problems import PROBLEM_MEDIA_TYPE, problem_catalog
from salescoach_api.types import INPUT_ERROR_TYPES, SALESFORCE_ID_PATTERN
from salescoach_api.versions import if_match

CODES_EXTENSION = "x-codes"

AUTHENTICATED = (
    "unauthorized",
    "token_expired",
    "forbidden",
    "rate_limited",
    "rate_limit_store_unavailable",
    "identity_provider_unavailable",
)
DATABASE = ("database_unavailable", "database_busy")
BODY = ("request_too_large", "validation_failed")
PARAMETERS = ("validation_failed",)
IDEMPOTENT = ("invalid_idempotency_key", "idempotency_key_in_use", "idempotency_key_reused")
PRECONDITION = ("invalid_if_match", "precondition_failed")

RAISED: dict[str, tuple[str, ...]] = {
    "getReadiness": ("database_unavailable", "migrations_pending"),
    "setQuota": ("invalid_month",),
    "setQuotas": ("invalid_quota_rows",),
    "importQuotasCsv": ("invalid_quota_rows",),
    "setActivityRequirements": ("unknown_manager", "invalid_id"),  # the team keys
    "runRepWhatIf": ("invalid_scenario",),
    "getRepTrend": ("invalid_trend",),
    "createApiKey": ("sf_user_required", "unknown_sf_user"),
    "createWebhook": ("invalid_webhook", "webhook_url_not_allowed"),
    "createGoal": (
        "goal_limit_reached",
        "invalid_goal",
        "coach_id_required",
        "target_worse_than_baseline",
        "invalid_coach_id",
        "invalid_period",
        "invalid_id",
    ),
    "updateGoal": ("goal_status_transition_refused", "invalid_goal", "target_worse_than_baseline"),
    "createSession": ("invalid_session", "invalid_coach_id", "coach_id_required", "invalid_id"),
    "updateSession": ("session_closed", "invalid_session", "invalid_coach_id", "coach_id_required"),
    "holdSession": (
        "session_closed",
        "invalid_session",
        "action_item_with_due_date_required",
        "follow_up_required",
        "action_item_and_follow_up_required",
        "invalid_period",
    ),
    "cancelSession": ("session_closed",),
    "markSessionNoShow": ("session_closed",),
    "acknowledgeSession": ("not_a_consequence_session", "session_closed"),
    "createActionItem": ("session_closed", "invalid_action_item", "invalid_opportunity_id", "invalid_id"),
    "updateActionItem": (
        "invalid_action_item",
        "completed_on_out_of_range",
        "cannot_coach_self",
        "coach_owned_action_item",
        "coach_cancels_action_items",
    ),
}
"""Codes an operation's own service raises, beyond those its route's dependencies imply."""


def route_codes(route: RouteContext, method: str) -> list[str]:
    """Every code `method` on `route` can answer with (before the 5XX of a bug)."""
    calls = list(dependency_calls(route.dependant))
    checks = [call for call in calls if isinstance(call, AccessCheck)]
    codes: list[str] = []
    if get_principal in calls:
        codes += AUTHENTICATED
    if checks and checks[0].access is Access.REP_WRITE:
        codes.append("cannot_coach_self")
    if get_db_session in calls or get_engine_dep in calls:
        codes += DATABASE
    if _has_body(route.dependant):
        codes += BODY
    if _has_parameters(route.dependant):
        codes += PARAMETERS
    if reject_unstorable_parameters in calls:
        codes.append("invalid_text")  # in any path or query value, declared or not
    for name in route.param_convertors:
        if name in NOT_FOUND:
            codes.append(NOT_FOUND[name].code)
        if name in PEOPLE:
            codes.append("invalid_id")
    if method == "POST" and (route.path or "").startswith("/v1/"):
        codes += IDEMPOTENT
        if secret_fields(route.original_route):
            codes.append("response_not_replayable")
    if get_pagination in calls:
        codes.append("invalid_cursor")
    if get_period_filter in calls:
        codes.append("invalid_period")
    if if_match in calls:
        codes += PRECONDITION
    codes += RAISED.get(route.operation_id or "", ())
    return list(dict.fromkeys(codes))


def _has_body(dependant: Dependant) -> bool:
    return bool(dependant.body_params) or any(_has_body(sub) for sub in dependant.dependencies)


def _has_parameters(dependant: Dependant) -> bool:
    own = dependant.path_params or dependant.query_params or dependant.header_params
    return bool(own) or any(_has_parameters(sub) for sub in dependant.dependencies)


def input_codes(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    """The 422 codes of the kinds of input an operation takes, read from their schemas
    (docs/errors.md, "Input limits"): text, Salesforce ids, dates, numbers, free-form JSON."""
    parameters = operation.get("parameters", ())
    found = {"invalid_sort" for parameter in parameters if parameter["name"] == "sort"}
    schemas = [parameter.get("schema", {}) for parameter in parameters]
    body = operation.get("requestBody", {}).get("content", {})
    schemas += [media.get("schema", {}) for media in body.values()]
    seen: set[str] = set()
    while schemas:
        schema = schemas.pop()
        ref = schema.get("$ref")
        if ref is not None:
            if ref not in seen:
                seen.add(ref)
                schemas.append(components[ref.rsplit("/", 1)[-1]])
            continue
        found.update(_kinds(schema))
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            schemas.extend(schema.get(key, ()))
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                schemas.append(schema[key])
        schemas.extend(schema.get("properties", {}).values())
    return [code for code in INPUT_KINDS if code in found]


INPUT_KINDS = ("invalid_sort", *INPUT_ERROR_TYPES)


def _kinds(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if kind == "string" and schema.get("format") in ("date", "date-time"):
        return {"date_out_of_range", "invalid_text"}
    if kind == "string" and schema.get("pattern") == SALESFORCE_ID_PATTERN:
        return {"invalid_id", "invalid_text"}
    if kind == "string" and schema.get("format") != "binary":
        return {"invalid_text"}
    if kind == "number":
        return {"number_out_of_range"}
    if kind == "object" and schema.get("additionalProperties") is True:
        # Free-form JSON: bounded in size and depth, its text and integers checked at any depth.
        return {"json_too_large", "json_too_deep", "number_out_of_range", "invalid_text"}
    return set()


def error_responses(codes: list[str]) -> dict[str, dict[str, Any]]:
    """The `responses` entries of these codes: one per status, its codes in `x-codes`."""
    catalog = problem_catalog()
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[catalog[code].status].append(code)
    content = {
        media: {"schema": {"$ref": "#/components/schemas/Problem"}}
        for media in (PROBLEM_MEDIA_TYPE, "application/json")
    }
    return {
        str(status): {
            "description": f"{HTTPStatus(status).phrase}: "
            + ", ".join(f"`{code}` ({catalog[code].title})" for code in status_codes)
            + ". See docs/errors.md.",
            "content": content,
            CODES_EXTENSION: status_codes,
        }
        for status, status_codes in sorted(by_status.items())
    }


def document_errors(app: FastAPI, schema: dict[str, Any]) -> None:
    """Add each operation's error responses to `schema` (the document of `app`'s routes)."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        operations = schema["paths"].get(route.path_format or "", {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            codes = route_codes(route, method) + input_codes(operation, schema["components"]["schemas"])
            for status, response in error_responses(list(dict.fromkeys(codes))).items():
                responses[status] = response
