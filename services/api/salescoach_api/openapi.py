"""The OpenAPI document: FastAPI's, then each document-wide step in one fixed order.

What one route declares about itself (`x-access`, ETags) rides on its `openapi_extra`; the
steps here are those that span many routes.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import FastAPI

from salescoach_api.error_responses import document_errors
from salescoach_api.idempotency import document_idempotency


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, built once per set of routes."""
    previous = app.openapi_schema
    # FastAPI's own generator keeps it in `app.openapi_schema` and builds a new one when the
    # routes change: each new document goes through the steps once.
    schema = FastAPI.openapi(app)
    if schema is not previous:
        document_idempotency(schema)
        document_errors(app, schema)
    return schema


def install_openapi(app: FastAPI) -> None:
    app.openapi = partial(build_openapi, app)  # type: ignore[method-assign]
