"""Dependencies every router uses: settings, the request's database session, and the check of
path and query values that applies to every route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from salescoach_api.types import has_unstorable_text
from salescoach_core.database import session_scope
from salescoach_core.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.database.engine()
    return engine


def get_db_session(engine: Annotated[Engine, Depends(get_engine_dep)]) -> Iterator[Session]:
    """The request's unit of work: committed once when the endpoint returns, rolled back on error.

    Scoped to the endpoint function, so the commit happens before the response is sent and a
    failed commit becomes an error response rather than a success the data does not back.
    """
    with session_scope(engine) as db_session:
        yield db_session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
DbSessionDep = Annotated[Session, Depends(get_db_session, scope="function")]


def get_now() -> datetime:
    """The current instant; a dependency so tests can fix the clock."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


def reject_unstorable_parameters(request: Request) -> None:
    """422 `invalid_text` for a NUL in any path or query value (a URL cannot carry a lone
    surrogate: invalid UTF-8 there is decoded as U+FFFD), whatever the parameter's type."""
    values = [("path", name, value) for name, value in request.path_params.items()]
    values += [("query", name, value) for name, value in request.query_params.multi_items()]
    errors = [
        {
            "loc": (where, name),
            "msg": "contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored",
            "type": "invalid_text",
        }
        for where, name, value in values
        if isinstance(value, str) and has_unstorable_text(value)
    ]
    if errors:
        raise RequestValidationError(errors)
