"""Streamed exports (CSV, Parquet) of sessions, action items, goals and scorecards.

Rows come from the `bi` views through a server-side cursor (`stream_results` + `yield_per`),
so memory stays flat whatever the table size. CSV is written batch by batch as it is read.
Parquet keeps its index in a footer, so the file is written one row group per batch into a
spooled buffer (in memory up to `SPOOL_BYTES`, on disk beyond) and streamed out once complete.
Scorecards are computed, not stored: reps are taken in batches and scored batch by batch.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, text
from sqlmodel import Session

from salescoach_core import reps as reps_service
from salescoach_core.keyset import Keyset
from salescoach_core.models import SfUser
from salescoach_core.periods import Period
from salescoach_core.scorecards.config import ScorecardConfig
from salescoach_core.scorecards.service import compute_scorecards

ExportFormat = Literal["csv", "parquet"]
BATCH_ROWS = 5_000
SCORECARD_BATCH_REPS = 200
SPOOL_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024

Batch = list[tuple[Any, ...]]
ConnectionFactory = Callable[[], AbstractContextManager[Connection]]


@dataclass(frozen=True)
class TableExport:
    """A `bi` view exported as is, filtered on one time column over [from, to)."""

    view: str
    time_column: str
    columns: tuple[tuple[str, pa.DataType], ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(list(self.columns))


_TS = pa.timestamp("us", tz="UTC")
_DEC = pa.decimal128(18, 4)
TABLE_EXPORTS: dict[str, TableExport] = {
    "sessions": TableExport(
        "coaching_sessions",
        "scheduled_at",
        (
            ("session_id", pa.string()),
            ("rep_id", pa.string()),
            ("coach_id", pa.string()),
            ("mode", pa.string()),
            ("status", pa.string()),
            ("scheduled_at", _TS),
            ("duration_minutes", pa.int32()),
            ("follow_up_at", _TS),
            ("closed_at", _TS),
            ("acknowledged_at", _TS),
            ("created_at", _TS),
        ),
    ),
    "action-items": TableExport(
        "action_items",
        "created_at",
        (
            ("action_item_id", pa.string()),
            ("session_id", pa.string()),
            ("rep_id", pa.string()),
            ("owner", pa.string()),
            ("description", pa.string()),
            ("due_date", pa.date32()),
            ("status", pa.string()),
            ("completed_on", pa.date32()),
            ("completed_source", pa.string()),
            ("created_at", _TS),
        ),
    ),
    "goals": TableExport(
        "coaching_goals",
        "created_at",
        (
            ("goal_id", pa.string()),
            ("rep_id", pa.string()),
            ("coach_id", pa.string()),
            ("kind", pa.string()),
            ("metric", pa.string()),
            ("skill", pa.string()),
            ("period_label", pa.string()),
            ("period_start", pa.date32()),
            ("period_end", pa.date32()),
            ("baseline", _DEC),
            ("target", _DEC),
            ("progress", _DEC),
            ("status", pa.string()),
            ("created_at", _TS),
        ),
    ),
}

SCORECARD_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("rep_id", pa.string()),
    ("name", pa.string()),
    ("manager_id", pa.string()),
    ("period", pa.string()),
    ("opportunity_starts", pa.int64()),
    ("dollars_in_starts", _DEC),
    ("won_count", pa.int64()),
    ("won_amount", _DEC),
    ("lost_count", pa.int64()),
    ("win_rate", _DEC),
    ("avg_deal_size", _DEC),
    ("sales_cycle_days", _DEC),
    ("sales_velocity_per_day", _DEC),
    ("quota", _DEC),
    ("attainment", _DEC),
    ("pace", _DEC),
    ("calls", pa.int64()),
    ("emails", pa.int64()),
    ("meetings", pa.int64()),
    ("other_tasks", pa.int64()),
    ("process_to_requirement", _DEC),
    ("willingness_to_change", _DEC),
    ("segment", pa.string()),
)
_PLACES = Decimal("0.0001")
_TABLE_SQL = """
SELECT {names} FROM bi.{view}
WHERE (CAST(:start AS timestamptz) IS NULL OR {time} >= :start)
  AND (CAST(:end AS timestamptz) IS NULL OR {time} < :end)
ORDER BY {time}, 1
"""


def table_batches(
    connect: ConnectionFactory, export: TableExport, *, start: datetime | None, end: datetime | None
) -> Iterator[Batch]:
    """The view's rows in [start, end) by time, in batches, through a server-side cursor."""
    # ids are uuids in the views; text on the wire and in Parquet.
    names = ", ".join(
        f"CAST({name} AS text) AS {name}" if kind == pa.string() else name for name, kind in export.columns
    )
    # Identifiers come from TABLE_EXPORTS, never from the request; values are bound.
    query = text(_TABLE_SQL.format(names=names, view=export.view, time=export.time_column))
    with connect() as conn:
        # Per statement, not on the connection: the options would outlive the export otherwise.
        result = conn.execute(
            query,
            {"start": start, "end": end},
            execution_options={"stream_results": True, "yield_per": BATCH_ROWS},
        )
        for partition in result.partitions():
            yield [tuple(row) for row in partition]


def _quantized(value: Any) -> Any:
    return value.quantize(_PLACES) if isinstance(value, Decimal) else value


def scorecard_batches(
    session_factory: Callable[[], AbstractContextManager[Session]],
    *,
    period: Period,
    config: ScorecardConfig,
    now: datetime,
) -> Iterator[Batch]:
    """One row per rep, the same figures as `GET /v1/reps/{rep_id}/scorecard`, reps in batches."""
    after: str | None = None
    while True:
        with session_factory() as session:
            by_id = Keyset(
                column=SfUser.id,
                id_column=SfUser.id,
                limit=SCORECARD_BATCH_REPS,
                after=None if after is None else (after, after),
            )
            batch = reps_service.list_reps(session, keyset=by_id, visible=lambda column: column.is_not(None))
            if not batch:
                return
            cards = compute_scorecards(session, reps=list(batch), period=period, config=config, now=now)
        after = batch[-1].id
        rows: Batch = []
        for card in cards:
            metrics = asdict(card.metrics)
            rows.append(
                (
                    card.rep_id,
                    card.name,
                    card.manager_id,
                    period.label,
                    *(_quantized(metrics[name]) for name, _ in SCORECARD_COLUMNS[4:]),
                )
            )
        yield rows


# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """A text cell a spreadsheet would run, with a leading single quote; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_stream(columns: Sequence[tuple[str, pa.DataType]], batches: Iterator[Batch]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([name for name, _ in columns])
    # Only text columns: a numeric column's -5.0 is a number, and stays one for every reader.
    text = [kind == pa.string() for _, kind in columns]
    for batch in batches:
        writer.writerows(
            [neutralised(value) if is_text else value for value, is_text in zip(row, text, strict=True)]
            for row in batch
        )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode()


def parquet_stream(columns: Sequence[tuple[str, pa.DataType]], batches: Iterator[Batch]) -> Iterator[bytes]:
    schema = pa.schema(list(columns))
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        with pq.ParquetWriter(spool, schema, compression="zstd") as writer:
            for batch in batches:
                arrays = [
                    pa.array([row[i] for row in batch], type=kind) for i, (_, kind) in enumerate(columns)
                ]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


def encode(
    fmt: ExportFormat, columns: Sequence[tuple[str, pa.DataType]], batches: Iterator[Batch]
) -> Iterator[bytes]:
    return csv_stream(columns, batches) if fmt == "csv" else parquet_stream(columns, batches)
