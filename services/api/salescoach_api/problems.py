"""RFC 9457 problem details: the one error body of the API, for our errors and FastAPI's own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from salescoach_api.types import INPUT_ERROR_TYPES
from salescoach_core.database import DatabaseFault, DatabaseUnavailableError, classify_database_fault
from salescoach_core.errors import BadRequestError, DomainError, UnprocessableError

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


@dataclass(frozen=True)
class ProblemType:
    """One `code`: the status and the title every problem with that code carries."""

    code: str
    status: int
    title: str


PROBLEM_TYPES = {
    problem.code: problem
    for problem in (
        ProblemType("bad_request", 400, "Bad request"),
        ProblemType("invalid_idempotency_key", 400, "Invalid Idempotency-Key"),
        ProblemType("cors_method_not_allowed", 400, "CORS method not allowed"),
        ProblemType("cors_header_not_allowed", 400, "CORS header not allowed"),
        ProblemType("cors_origin_not_allowed", 403, "CORS origin not allowed"),
        ProblemType("not_found", 404, "Not found"),
        ProblemType("method_not_allowed", 405, "Method not allowed"),
        ProblemType("not_acceptable", 406, "Not acceptable"),
        ProblemType("conflict", 409, "Conflict"),
        ProblemType("request_too_large", 413, "Request too large"),
        ProblemType("unsupported_media_type", 415, "Unsupported media type"),
        ProblemType("validation_failed", 422, "Invalid request"),
        ProblemType("invalid_text", 422, "Text that cannot be stored"),
        ProblemType("invalid_id", 422, "Not a Salesforce id"),
        ProblemType("date_out_of_range", 422, "Date out of range"),
        ProblemType("number_out_of_range", 422, "Number out of range"),
        ProblemType("json_too_large", 422, "JSON too large"),
        ProblemType("json_too_deep", 422, "JSON too deep"),
        ProblemType("internal_error", 500, "Internal error"),
        ProblemType("service_unavailable", 503, "Service unavailable"),
        ProblemType(DatabaseFault.UNAVAILABLE.value, 503, "Database unavailable"),
        ProblemType(DatabaseFault.BUSY.value, 503, "Database busy"),
        ProblemType("migrations_pending", 503, "Migrations pending"),
    )
}
"""The problems no `DomainError` class stands for (the framework's, the middlewares'): the one
title of each code. A `DomainError` carries its own (`problem_catalog` checks they agree)."""


def _domain_error_classes(root: type[DomainError] = DomainError) -> Iterator[type[DomainError]]:
    for subclass in root.__subclasses__():
        yield subclass
        yield from _domain_error_classes(subclass)


def problem_catalog() -> dict[str, ProblemType]:
    """Every code the API answers with, its status and its one title: `PROBLEM_TYPES` and every
    `DomainError` class (bases marked `abstract` are never raised). A code given two statuses or
    two titles is a ValueError: a client switching on `code` must always see the same problem."""
    catalog = dict(PROBLEM_TYPES)
    for error in _domain_error_classes():
        if error.__dict__.get("abstract", False):
            continue
        found = ProblemType(error.code, error.status, error.title)
        known = catalog.setdefault(found.code, found)
        if known != found:
            raise ValueError(f"{error.__qualname__}: {found} disagrees with {known}")
    return catalog


class FieldError(BaseModel):
    """One invalid input: where it is (`loc`, e.g. ["body", "amount"]) and what is wrong."""

    loc: list[str | int]
    msg: str
    type: str


class RowError(BaseModel):
    """One invalid row of a bulk load (`invalid_quota_rows`)."""

    row: int = Field(description="1 for the first row (in a CSV, the first after the header).")
    field: str = Field(description="The column at fault.")
    message: str


class ActiveGoalRef(BaseModel):
    """An active goal standing in the way (`goal_limit_reached`)."""

    id: str
    kind: str
    summary: str
    period: str = Field(description="The goal's period label (`2026-10`, `2026-Q4`).")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details plus a stable `code`. Some codes carry extension
    members, listed here; any other member may be added later, so a client ignores the ones it
    does not know."""

    type: str = Field(description="URI reference naming the problem type: /problems/{code}.")
    title: str = Field(description="Short summary of the problem type; one per `code`.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong here and what to fix.")
    code: str = Field(description="Stable machine-readable error code (docs/errors.md lists them).")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="Quote this when reporting a problem.")
    errors: list[FieldError] | None = Field(
        default=None,
        description="Validation errors, per field (every 422 of a request's fields, `invalid_scenario`, "
        "a domain error about one body field, and one about path, query or header parameters: "
        '`loc` is `["query", "period"]` as in a 422 of the framework).',
    )
    active_goals: list[ActiveGoalRef] | None = Field(
        default=None, description="`goal_limit_reached`: the active goals in overlapping periods."
    )
    missing: list[Literal["action_item_with_due_date", "follow_up"]] | None = Field(
        default=None, description="The hold requirements missing (`*_required` codes of a session hold)."
    )
    baseline: float | None = Field(
        default=None, description="`target_worse_than_baseline`: the baseline the target falls behind."
    )
    row_errors: list[RowError] | None = Field(
        default=None, description="`invalid_quota_rows`: each invalid row and column."
    )
    unknown_manager_ids: list[str] | None = Field(
        default=None, description="`unknown_manager`: the team keys naming no synced user."
    )
    known: list[str] | None = Field(
        default=None, description="`invalid_webhook` on unknown event types: the event types there are."
    )
    created: dict[str, Any] | None = Field(
        default=None,
        description="`response_not_replayable`: the first answer without its secret (null when it was "
        "not JSON).",
    )

    model_config = {"extra": "allow"}


# `model` registers the schema (and FastAPI files it under application/json); the media type
# the API actually sends, application/problem+json, gets the same schema by reference so
# generated clients type the body whichever one they read.
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": Problem, "description": "Client error", "content": _PROBLEM_CONTENT},
    "5XX": {"model": Problem, "description": "Server error", "content": _PROBLEM_CONTENT},
}


def problem_response(
    request: Request,
    *,
    status: int,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    code = code or _CODE_BY_STATUS.get(status, f"http_{status}")
    known = PROBLEM_TYPES.get(code)
    body = Problem(
        type=f"/problems/{code}",
        title=title or (known.title if known else HTTPStatus(status).phrase),
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        request_id=_current_request_id(),
        **extensions,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers) if headers else None,
    )


def _current_request_id() -> str | None:
    from asgi_correlation_id import correlation_id

    return correlation_id.get()


def field_errors(locs: Iterable[Sequence[str | int]], msg: str, code: str) -> list[dict[str, Any]]:
    """`errors[]` of a problem of ours: one entry per input at fault (`["query", "period"]`,
    `["body", "coach_id"]`), each the shape of a FastAPI validation error, with the problem's
    detail as its `msg` and its code as its `type`."""
    return [FieldError(loc=list(loc), msg=msg, type=code).model_dump() for loc in locs]


ParameterIn = Literal["path", "query", "header"]


@contextmanager
def parameters(where: ParameterIn, *names: str) -> Iterator[None]:
    """An input error (400 or 422) raised inside is about these parameters: its problem names them in
    `errors[].loc` (`["query", "period"]`), as FastAPI's own 422s name a parameter. The ones the
    error names as its `inputs`, if any of them; else all `names`. An error that already says
    where its input is (a body `field`) keeps that. The one place a parameter's problem is
    located: code that parses a parameter's value runs under it with the parameter's name (a
    header's in lower case, as FastAPI names it)."""
    try:
        yield
    except (BadRequestError, UnprocessableError) as exc:
        if not exc.locs:
            at_fault = [name for name in names if name in exc.inputs] or names
            exc.locs = tuple((where, name) for name in at_fault)
        raise


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    extensions = dict(exc.extensions)
    if exc.locs:
        extensions.setdefault("errors", field_errors(exc.locs, exc.detail, exc.code))
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        **extensions,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}."
    if exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(request, status=exc.status_code, detail=detail, headers=exc.headers)


def _encodable(text: str) -> str:
    # A lone surrogate in a dict key lands in `loc`; as UTF-8 it could not be sent at all.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            loc=[part if isinstance(part, int) else _encodable(str(part)) for part in err.get("loc", ())],
            msg=_encodable(str(err.get("msg", ""))),
            type=str(err.get("type", "")),
        )
        for err in exc.errors()
    ]
    where = ", ".join(".".join(str(part) for part in e.loc) for e in errors)
    kinds = {e.type for e in errors}
    # One kind of our own input error (invalid_id, invalid_text, ...) is the code; else the generic one.
    code = kinds.pop() if len(kinds) == 1 and kinds <= set(INPUT_ERROR_TYPES) else None
    return problem_response(
        request,
        status=422,
        code=code,
        detail=f"The request is invalid at: {where}. See errors[] for each field.",
        errors=[e.model_dump() for e in errors],
    )


# How long a client should wait before retrying: a time-out clears sooner than an outage.
RETRY_AFTER_SECONDS = {DatabaseFault.BUSY: 2, DatabaseFault.UNAVAILABLE: 5}
_FAULT_DETAIL = {
    DatabaseFault.BUSY: "The database did not answer in time. Retry after the Retry-After delay.",
    DatabaseFault.UNAVAILABLE: "The database is unavailable. Retry after the Retry-After delay.",
}


def database_fault_response(request: Request, fault: DatabaseFault) -> JSONResponse:
    return problem_response(
        request,
        status=503,
        code=fault.value,
        detail=_FAULT_DETAIL[fault],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS[fault])},
    )


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """Every exception no other handler took, from a route or a middleware: a database that
    cannot answer is a 503 the client may retry; anything else a 500 that says nothing inside."""
    fault = classify_database_fault(exc)
    if fault is not None:
        # The error's type is enough to tell outage from time-out; its text (host, socket
        # path, SQL) stays out of the response.
        log.warning(fault.value, path=request.url.path, error=type(exc).__name__)
        return database_fault_response(request, fault)
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    response = problem_response(
        request,
        status=500,
        detail="An unexpected error occurred; it has been logged. Quote request_id when reporting it.",
    )
    # This answer is sent from outside the CORS middleware (salescoach_api/cors.py).
    cors = getattr(request.app.state, "cors", None)
    if cors is not None:
        response.headers.update(cors.headers_for(request.headers))
    return response


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Exception goes to Starlette's outermost middleware, which also sees what a middleware
    # raised; the database errors are named too so that route errors are answered before it.
    for fault_type in (OperationalError, SQLAlchemyTimeoutError, DatabaseUnavailableError):
        app.add_exception_handler(fault_type, _server_error)
    app.add_exception_handler(Exception, _server_error)
