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

from salescoach_api.problems import PROBLEM_RESPONSES, Problem, database_fault_response, problem_response
from salescoach_core.database import Database, DatabaseFault
from salescoach_core.database.migrations import RevisionState, revision_state_of

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database_revision: str | None
    schema_: Literal["at_head", "ahead"] = Field(
        alias="schema",
        description="`ahead`: a newer release migrated the database; this one still serves it "
        "(migrations only add, docs/development.md).",
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
    """Ready to serve: the database answers and its schema is at the latest migration.

    Answers within two seconds whatever the database does, so a probe never hangs."""
    database: Database = request.app.state.database
    try:
        state = await asyncio.wait_for(run_in_threadpool(_revision_state, database), READINESS_SECONDS)
    except Exception as exc:
        # An anonymous caller learns that the database is down, not the driver's words.
        log.warning("readiness_database_unavailable", error=type(exc).__name__)
        return database_fault_response(request, DatabaseFault.UNAVAILABLE)
    if not state.serves:
        return problem_response(
            request,
            status=503,
            code="migrations_pending",
            detail=f"Database schema is at {state.current or 'no revision'}, code expects {state.head}. "
            "Run `salescoach db upgrade`.",
        )
    return Readiness(database_revision=state.current, schema_="at_head" if state.at_head else "ahead")


READINESS_SECONDS = 1.5


def _revision_state(database: Database) -> RevisionState:
    with database.engine().connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL statement_timeout = 1000"))
        conn.execute(text("SET LOCAL lock_timeout = 1000"))
        current = MigrationContext.configure(conn).get_current_revision()
    return revision_state_of(current)
