"""`/healthz` (process alive) and `/readyz` (database answers, migrations at head)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from salescoach_api.problems import PROBLEM_RESPONSES, Problem, problem_response
from salescoach_core.database.migrations import revision_state

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database_revision: str | None


@router.get("/healthz", response_model=Health, operation_id="getHealth")
def healthz() -> Health:
    """The process is alive. Does not touch the database."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="getReadiness",
    responses={
        503: {"model": Problem, "description": "Not ready; `detail` says why."},
        **PROBLEM_RESPONSES,
    },
)
def readyz(request: Request) -> Readiness | JSONResponse:
    """Ready to serve: the database answers and its schema is at the latest migration."""
    database = request.app.state.database
    try:
        engine = database.engine()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        state = revision_state(engine)
    except Exception as exc:
        return problem_response(
            request,
            status=503,
            code="database_unavailable",
            detail=f"The database does not answer: {_first_line(exc)}",
        )
    if not state.at_head:
        return problem_response(
            request,
            status=503,
            code="migrations_pending",
            detail=f"Database schema is at {state.current or 'no revision'}, code expects {state.head}. "
            "Run `salescoach db upgrade`.",
        )
    return Readiness(database_revision=state.current)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
