"""`/v1/exports/...`: sessions, action items, goals and scorecards as streamed CSV or Parquet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import EngineDep, NowDep, ReadReplicaDep, SettingsDep
from salescoach_api.periods import PeriodDep, PeriodFilterDep
from salescoach_core.database.replica import ReadReplica
from salescoach_core.integrations import exports
from salescoach_core.integrations.exports import ExportFormat
from salescoach_core.periods import Period
from salescoach_core.scorecards.config import ScorecardConfig

router = v1_router(prefix="/v1/exports", tags=["exports"])

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export, streamed.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@dataclass(frozen=True)
class ExportSource:
    """Where a streaming export reads from. Not the request's session: the body is produced
    after the endpoint returns, so the export opens (and closes) its own connection, on the
    read replica when it is within the lag bound, else on the primary."""

    connect: exports.ConnectionFactory
    db_session: Callable[[], AbstractContextManager[Session]]

    @staticmethod
    def on(engine: Engine, replica: ReadReplica | None) -> ExportSource:
        @contextmanager
        def connect() -> Iterator[Connection]:
            with replica.connect() if replica is not None else nullcontext(None) as replica_conn:
                if replica_conn is not None:
                    yield replica_conn
                    return
                with engine.connect() as conn, conn.begin():
                    yield conn

        @contextmanager
        def db_session() -> Iterator[Session]:
            with connect() as conn, Session(bind=conn) as session:
                yield session

        return ExportSource(connect=connect, db_session=db_session)


def get_export_source(engine: EngineDep, replica: ReadReplicaDep) -> ExportSource:
    return ExportSource.on(engine, replica)


SourceDep = Annotated[ExportSource, Depends(get_export_source)]
FormatQuery = Annotated[ExportFormat, Query(alias="format", description="csv or parquet.")]


def _stream(name: str, fmt: ExportFormat, body: Iterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _table(
    kind: str, source: ExportSource, settings: SettingsDep, fmt: ExportFormat, period: Period | None
) -> StreamingResponse:
    spec = exports.TABLE_EXPORTS[kind]
    bounds = period.instants(ScorecardConfig.from_settings(settings).zone) if period else (None, None)
    batches = exports.table_batches(source.connect, spec, start=bounds[0], end=bounds[1])
    return _stream(kind, fmt, exports.encode(fmt, spec.columns, batches))


@router.get(
    "/sessions", operation_id="exportSessions", responses=FILE_RESPONSES, dependencies=[requires(Access.FEED)]
)
def export_sessions(
    source: SourceDep, settings: SettingsDep, within: PeriodFilterDep, format: FormatQuery = "csv"
) -> StreamingResponse:
    """Coaching sessions scheduled in the period, columns of `bi.coaching_sessions`.

    Default period: none, every session. The period filters the records, it is not a metric period."""
    return _table("sessions", source, settings, format, within)


@router.get(
    "/action-items",
    operation_id="exportActionItems",
    responses=FILE_RESPONSES,
    dependencies=[requires(Access.FEED)],
)
def export_action_items(
    source: SourceDep, settings: SettingsDep, within: PeriodFilterDep, format: FormatQuery = "csv"
) -> StreamingResponse:
    """Action items created in the period, columns of `bi.action_items`.

    Default period: none, every action item. The period filters the records, it is not a metric
    period."""
    return _table("action-items", source, settings, format, within)


@router.get(
    "/goals", operation_id="exportGoals", responses=FILE_RESPONSES, dependencies=[requires(Access.FEED)]
)
def export_goals(
    source: SourceDep, settings: SettingsDep, within: PeriodFilterDep, format: FormatQuery = "csv"
) -> StreamingResponse:
    """Coaching goals created in the period, columns of `bi.coaching_goals`.

    Default period: none, every goal. The period filters the records (by creation), it is not the
    goals' own period."""
    return _table("goals", source, settings, format, within)


@router.get(
    "/scorecards",
    operation_id="exportScorecards",
    responses=FILE_RESPONSES,
    dependencies=[requires(Access.FEED)],
)
def export_scorecards(
    source: SourceDep, settings: SettingsDep, now: NowDep, chosen: PeriodDep, format: FormatQuery = "csv"
) -> StreamingResponse:
    """Every rep's scorecard over the period: the figures of `GET /v1/reps/{rep_id}/scorecard`.

    Default period: the running month in the org's zone."""
    batches = exports.scorecard_batches(
        source.db_session, period=chosen, config=ScorecardConfig.from_settings(settings), now=now
    )
    return _stream("scorecards", format, exports.encode(format, exports.SCORECARD_COLUMNS, batches))
