"""RFC 9457 problem details: the one error body of the API, for our errors and FastAPI's own."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

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
from salescoach_core.errors import DomainError

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


class FieldError(BaseModel):
    """One invalid input: where it is (`loc`, e.g. ["body", "amount"]) and what is wrong."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details plus a stable `code`."""

    type: str = Field(description="URI reference naming the problem type: /problems/{code}.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong here and what to fix.")
    code: str = Field(description="Stable machine-readable error code.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="Quote this when reporting a problem.")
    errors: list[FieldError] | None = Field(default=None, description="Validation errors, per field.")

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
    body = Problem(
        type=f"/problems/{code}",
        title=title or HTTPStatus(status).phrase,
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


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    extensions = dict(exc.extensions)
    if exc.field is not None:
        extensions.setdefault(
            "errors", [FieldError(loc=["body", exc.field], msg=exc.detail, type=exc.code).model_dump()]
        )
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
    code = kinds.pop() if len(kinds) == 1 and kinds <= INPUT_ERROR_TYPES else None
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
