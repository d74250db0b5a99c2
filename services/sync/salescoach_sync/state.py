"""The `sync_state` rows: per object, the high-water mark and the figures of the last run.

Success is written on the sync's own connection, inside the transaction that carries the
data (the checkpoint can never run ahead of or behind the rows). "running" and failures are
written in transactions of their own, so they are visible while the sync runs or after it
rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from sqlalchemy import Engine


@dataclass(frozen=True)
class ObjectState:
    object_name: str
    high_water_mark: datetime | None
    last_full_sync_at: datetime | None
    last_reconciled_at: datetime | None
    last_mode: str | None
    last_status: str | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_success_at: datetime | None
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    api_calls: int
    last_error: str | None
    described_fields: list[dict[str, Any]] | None
    described_at: datetime | None
    deleted_checked_at: datetime | None
    window_read_at: datetime | None


_COLUMNS = ", ".join(f.name for f in fields(ObjectState))


@contextmanager
def driver_connection(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection from the engine's pool, in autocommit (transactions are explicit:
    `conn.transaction()`): COPY and the sync's statements use the driver's API directly."""
    pooled = engine.raw_connection()
    conn = pooled.driver_connection
    assert isinstance(conn, psycopg.Connection)
    try:
        conn.rollback()
        conn.autocommit = True
        yield conn
    finally:
        conn.autocommit = False
        pooled.close()


def relax_durability(conn: psycopg.Connection[Any]) -> None:
    """Commit the current transaction without waiting for its WAL flush.

    The sync's transactions copy Salesforce, which stays the source: if PostgreSQL itself
    crashes (the sync process dying changes nothing here) the last fraction of a second of
    commits is lost, each as a whole, data and high-water mark together, and the next pass
    reads those records again. Atomicity and the checkpoint rule are untouched; only the
    fsync wait goes (30-50 ms per commit on the benchmark machine, a sixth of a small
    incremental pass). Scoped to the transaction: other users of the pool keep theirs."""
    conn.execute("SET LOCAL synchronous_commit = off")


def read_state(conn: psycopg.Connection[Any], object_name: str) -> ObjectState | None:
    with conn.cursor(row_factory=class_row(ObjectState)) as cursor:
        cursor.execute(f"SELECT {_COLUMNS} FROM sync_state WHERE object_name = %s", (object_name,))  # noqa: S608
        return cursor.fetchone()


def read_states(conn: psycopg.Connection[Any], object_names: Sequence[str]) -> dict[str, ObjectState]:
    """The rows of `object_names` that exist, in one query."""
    with conn.cursor(row_factory=class_row(ObjectState)) as cursor:
        cursor.execute(
            f"SELECT {_COLUMNS} FROM sync_state WHERE object_name = ANY(%s)",  # noqa: S608
            (list(object_names),),
        )
        return {state.object_name: state for state in cursor.fetchall()}


def mark_running(conn: psycopg.Connection[Any], object_name: str, *, mode: str, started_at: datetime) -> None:
    """Commit a 'running' row at once (own transaction)."""
    with conn.transaction():
        relax_durability(conn)
        conn.execute(
            "INSERT INTO sync_state (object_name, last_mode, last_status, last_started_at, last_finished_at,"
            " rows_inserted, rows_updated, rows_deleted, api_calls, last_error)"
            " VALUES (%(name)s, %(mode)s, 'running', %(started)s, NULL, 0, 0, 0, 0, NULL)"
            " ON CONFLICT (object_name) DO UPDATE SET last_mode = EXCLUDED.last_mode,"
            " last_status = 'running', last_started_at = EXCLUDED.last_started_at, last_finished_at = NULL,"
            " last_error = NULL",
            {"name": object_name, "mode": mode, "started": started_at},
        )


@dataclass(frozen=True)
class Outcome:
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    api_calls: int = 0
    error: str | None = None


def save_outcome(
    conn: psycopg.Connection[Any],
    object_name: str,
    outcome: Outcome,
    *,
    high_water_mark: datetime | None = None,
    full_synced_at: datetime | None = None,
    reconciled_at: datetime | None = None,
    described: tuple[list[dict[str, Any]], datetime] | None = None,
    forget_describe: bool = False,
    deleted_checked_at: datetime | None = None,
    window_read_at: datetime | None = None,
) -> None:
    """Upsert the row; checkpoint columns only move when a value is given (None keeps them).
    `last_success_at` (the API's data_as_of) moves only when the outcome is ok. `described`
    (fields, when) replaces the cached describe; `forget_describe` drops it.
    `deleted_checked_at`: the end of the span getDeleted (or a full read) covered;
    `window_read_at`: when this run's read of the changes began (see probe.py)."""
    fields, described_at = described if described is not None else (None, None)
    conn.execute(
        "INSERT INTO sync_state (object_name, high_water_mark, last_full_sync_at, last_reconciled_at,"
        " last_mode, last_status, last_started_at, last_finished_at, last_success_at, rows_inserted,"
        " rows_updated, rows_deleted, api_calls, last_error, described_fields, described_at,"
        " deleted_checked_at, window_read_at)"
        " VALUES (%(name)s, %(hwm)s, %(full)s, %(reconciled)s, %(mode)s, %(status)s, %(started)s,"
        " %(finished)s, %(success)s, %(inserted)s, %(updated)s, %(deleted)s, %(calls)s, %(error)s,"
        " %(fields)s, %(described_at)s, %(deleted_checked)s, %(window_read)s)"
        " ON CONFLICT (object_name) DO UPDATE SET"
        " high_water_mark = COALESCE(EXCLUDED.high_water_mark, sync_state.high_water_mark),"
        " last_full_sync_at = COALESCE(EXCLUDED.last_full_sync_at, sync_state.last_full_sync_at),"
        " last_reconciled_at = COALESCE(EXCLUDED.last_reconciled_at, sync_state.last_reconciled_at),"
        " last_mode = EXCLUDED.last_mode, last_status = EXCLUDED.last_status,"
        " last_started_at = EXCLUDED.last_started_at, last_finished_at = EXCLUDED.last_finished_at,"
        " last_success_at = COALESCE(EXCLUDED.last_success_at, sync_state.last_success_at),"
        " rows_inserted = EXCLUDED.rows_inserted, rows_updated = EXCLUDED.rows_updated,"
        " rows_deleted = EXCLUDED.rows_deleted, api_calls = EXCLUDED.api_calls,"
        " last_error = EXCLUDED.last_error,"
        " described_fields = CASE WHEN %(forget)s THEN NULL"
        " ELSE COALESCE(EXCLUDED.described_fields, sync_state.described_fields) END,"
        " described_at = CASE WHEN %(forget)s THEN NULL"
        " ELSE COALESCE(EXCLUDED.described_at, sync_state.described_at) END,"
        " deleted_checked_at = COALESCE(EXCLUDED.deleted_checked_at, sync_state.deleted_checked_at),"
        " window_read_at = COALESCE(EXCLUDED.window_read_at, sync_state.window_read_at)",
        {
            "name": object_name,
            "hwm": high_water_mark,
            "full": full_synced_at,
            "reconciled": reconciled_at,
            "mode": outcome.mode,
            "status": outcome.status,
            "started": outcome.started_at,
            "finished": outcome.finished_at,
            "success": outcome.finished_at if outcome.status == "ok" else None,
            "inserted": outcome.inserted,
            "updated": outcome.updated,
            "deleted": outcome.deleted,
            "calls": outcome.api_calls,
            "error": outcome.error,
            "fields": Jsonb(fields) if fields is not None else None,
            "described_at": described_at,
            "forget": forget_describe,
            "deleted_checked": deleted_checked_at,
            "window_read": window_read_at,
        },
    )
