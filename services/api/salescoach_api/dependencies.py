"""Dependencies every router uses: settings, the request's database sessions (the primary's
unit of work, and the session its reads go to), and the check of path and query values that
applies to every route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from salescoach_api.types import has_unstorable_text
from salescoach_core.database import session_scope
from salescoach_core.database.replica import ReadReplica
from salescoach_core.settings import Settings


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency a route's endpoint has, at any depth: what the route documents and does
    follows from them (salescoach_api.error_responses, salescoach_api.versions)."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependency_calls(sub)


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


def get_read_replica(request: Request) -> ReadReplica | None:
    replica: ReadReplica | None = request.app.state.read_replica
    return replica


ReadReplicaDep = Annotated[ReadReplica | None, Depends(get_read_replica)]


def get_read_session(replica: ReadReplicaDep, primary: DbSessionDep) -> Iterator[Session]:
    """Where a read-only route's queries go: the read replica (DATABASE_REPLICA_URL) while it
    is within the lag bound, else the request's own primary session.

    A route opts in by declaring `ReadSessionDep` instead of `DbSessionDep`, and may then be
    answered with data up to `replica_max_lag_seconds` old: only for reads that do not follow
    a write of the same request. Authentication, rate limiting, idempotency and access checks
    keep using the primary session (`DbSessionDep`) whatever the route declares. The primary
    session costs nothing unless used: a session connects on its first statement.
    """
    with replica.connect() if replica is not None else nullcontext(None) as conn:
        if conn is None:
            yield primary
            return
        with Session(bind=conn) as replica_session:
            yield replica_session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


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
