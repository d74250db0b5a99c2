"""`/healthz` (process alive) and `/readyz` (database answers, migrations at head or, during a
rollout, ahead of it)."""

from __future__ import annotations

import asyncio
from typing import Literal

import structlog
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from salescoach_api.health.replica import ReplicaReadiness
from salescoach_api.problems import PROBLEM_RESPONSES, Problem, database_fault_response, problem_response
from salescoach_core.database import Database, DatabaseFault
from salescoach_core.database.migrations import RevisionState, SchemaState, revision_state_of
from salescoach_core.database.replica import ReadReplica

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database_revision: str | None
    schema_: Literal[SchemaState.AT_HEAD, SchemaState.AHEAD] = Field(
        alias="schema",
        description="`ahead`: a newer release migrated the database; this one still serves it "
        "(migrations only add, docs/development.md).",
    )
    replica: ReplicaReadiness | None = Field(
        default=None, description="The read replica (DATABASE_REPLICA_URL); null when none is configured."
    )

    model_config = {"populate_by_name": True}


@router.get("/healthz", response_model=Health, operation_id="getHealth")
def healthz() -> Health:
    """The process is alive. Does not touch the database."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="getReadiness",
    responses={
        503: {"model": Problem, "description": "Not ready; `code` and `detail` say why."},
        **PROBLEM_RESPONSES,
    },
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    """Ready to serve: the database answers and its schema is at the latest migration. The read
    replica's state and lag are shown, but a lagging or unreachable replica does not make the
    API unready: its reads go to the primary.

    Answers within two seconds whatever the database does, so a probe never hangs."""
    database: Database = request.app.state.database
    replica: ReadReplica | None = request.app.state.read_replica
    # Checked alongside the primary, within the same time budget.
    replica_check = None if replica is None else asyncio.create_task(_replica_readiness(replica))
    try:
        return await _readiness(request, database, replica_check)
    finally:
        if replica_check is not None:
            replica_check.cancel()


async def _readiness(
    request: Request, database: Database, replica_check: asyncio.Task[ReplicaReadiness] | None
) -> Readiness | JSONResponse:
    try:
        state = await asyncio.wait_for(run_in_threadpool(_revision_state, database), READINESS_SECONDS)
    except Exception as exc:
        # An anonymous caller learns that the database is down, not the driver's words.
        log.warning("readiness_database_unavailable", error=type(exc).__name__)
        return database_fault_response(request, DatabaseFault.UNAVAILABLE)
    schema = state.schema
    if schema is SchemaState.BEHIND:
        return problem_response(
            request,
            status=503,
            code="migrations_pending",
            detail=f"Database schema is at {state.current or 'no revision'}, code expects {state.head}. "
            "Run `salescoach db upgrade`.",
        )
    return Readiness(
        database_revision=state.current,
        schema_=schema,
        replica=None if replica_check is None else await replica_check,
    )


READINESS_SECONDS = 1.5


async def _replica_readiness(replica: ReadReplica) -> ReplicaReadiness:
    try:
        state = await asyncio.wait_for(run_in_threadpool(replica.state), READINESS_SECONDS)
    except TimeoutError:
        return ReplicaReadiness(
            condition="unreachable", lag_seconds=None, max_lag_seconds=replica.max_lag_seconds
        )
    return ReplicaReadiness.of(state)


def _revision_state(database: Database) -> RevisionState:
    with database.engine().connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL statement_timeout = 1000"))
        conn.execute(text("SET LOCAL lock_timeout = 1000"))
        current = MigrationContext.configure(conn).get_current_revision()
    return revision_state_of(current)
