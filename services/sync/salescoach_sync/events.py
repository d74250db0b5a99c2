"""The `sync.completed` event: one per pass, after its objects have committed.

A pass commits each object in its own transaction (so each keeps its checkpoint), so there is no
single write to join; the event is written in a transaction of its own once the pass is done,
and says per object what happened. Passes that read nothing new still emit it: consumers use it
as the "data is fresh as of" signal.

Its transaction commits without waiting for the WAL flush, like the objects' own (see
`relax_durability`): if PostgreSQL crashes, the event is lost with the pass's last commits, and
the next pass, which reads those records again, emits its own."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from salescoach_core.integrations.events import emit_raw
from salescoach_sync.report import SyncReport
from salescoach_sync.state import driver_connection, relax_durability


def record_sync_completed(engine: Engine, report: SyncReport) -> None:
    data = {
        "ok": report.ok,
        "stopped_by_quota": report.stopped_by_quota,
        "changed_objects": report.changed_objects,
        "objects": [
            {
                "object": r.object_name,
                "mode": r.mode,
                "status": r.status,
                "inserted": r.inserted,
                "updated": r.updated,
                "deleted": r.deleted,
                "error_code": r.error_code,
            }
            for r in report.results
        ],
    }
    with driver_connection(engine) as conn, conn.transaction():
        relax_durability(conn)
        emit_raw(conn, "sync.completed", data, now=datetime.now(UTC))
