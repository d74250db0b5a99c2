"""Domain events: written in the transaction of the change they record, fanned out to the
webhook deliveries of subscribed endpoints in the same statement, and read back by the feed.

The feed's cursor is (transaction id, sequence), not the sequence alone: sequences are drawn
at insert time, so a transaction that commits late can publish a lower sequence than one a
reader has already passed. The feed only serves events of transactions older than every
transaction still running (`pg_snapshot_xmin`), and later commits always carry larger
transaction ids, so nothing ever lands behind a cursor. Both numbers are durable, so a cursor
stays valid across restarts of the API and of PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.errors import UnprocessableError

EventType = Literal[
    "goal.created",
    "goal.status_changed",
    "session.held",
    "session.canceled",
    "action_item.completed",
    "sync.completed",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "goal.created",
    "goal.status_changed",
    "session.held",
    "session.canceled",
    "action_item.completed",
    "sync.completed",
)

# One statement: the event row, and a pending delivery for every endpoint subscribed to its type
# (an empty subscription list means every type). Plain SQL so the sync engine's psycopg
# connection and SQLAlchemy sessions emit through the same text.
EMIT_SQL = """
WITH new_event AS (
    INSERT INTO event (id, type, occurred_at, payload)
    VALUES (%(id)s, %(type)s, %(occurred_at)s, CAST(%(payload)s AS jsonb))
    RETURNING id, occurred_at
)
INSERT INTO webhook_delivery (id, endpoint_id, event_id, status, attempts, created_at, next_attempt_at)
SELECT gen_random_uuid(), w.id, e.id, 'pending', 0, e.occurred_at, e.occurred_at
FROM webhook_endpoint AS w CROSS JOIN new_event AS e
WHERE jsonb_array_length(w.event_types) = 0 OR jsonb_exists(w.event_types, %(type)s)
"""
_EMIT_TEXT = text(
    EMIT_SQL.replace("%(id)s", ":id")
    .replace("%(type)s", ":type")
    .replace("%(occurred_at)s", ":occurred_at")
    .replace("%(payload)s", ":payload")
)


class InvalidCursorError(UnprocessableError):
    code = "invalid_cursor"


class PsycopgConnection(Protocol):
    """What `emit_raw` needs of a psycopg connection (the sync engine's)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...


@dataclass(frozen=True)
class Event:
    """An event as the feed and webhooks serve it."""

    id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    cursor: str

    def body(self) -> dict[str, Any]:
        """The Standard Webhooks payload shape: type, timestamp, data."""
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": self.occurred_at.isoformat(),
            "data": self.data,
        }


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _params(type_: EventType, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {"id": new_event_id(), "type": type_, "occurred_at": now, "payload": json.dumps(data, default=str)}


def emit(session: Session, type_: EventType, data: Mapping[str, Any], *, now: datetime) -> str:
    """Record an event in the session's transaction; returns its id."""
    params = _params(type_, data, now)
    session.execute(_EMIT_TEXT, params)
    return str(params["id"])


def emit_raw(conn: PsycopgConnection, type_: EventType, data: Mapping[str, Any], *, now: datetime) -> str:
    """`emit` on a psycopg connection, inside whatever transaction it has open."""
    params = _params(type_, data, now)
    conn.execute(EMIT_SQL, params)
    return str(params["id"])


def encode_cursor(txid: int, sequence: int) -> str:
    return base64.urlsafe_b64encode(f"{txid}:{sequence}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        txid, sequence = raw.split(":")
        return int(txid), int(sequence)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError("`after` is not a cursor this feed handed out.") from exc


_FEED_SQL = text(
    """
    SELECT id, type, occurred_at, payload, txid, sequence
    FROM event
    WHERE (txid, sequence) > (:txid, :sequence)
      AND (txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
           OR txid = pg_current_xact_id_if_assigned()::text::bigint)
      AND (CAST(:types AS text[]) IS NULL OR type = ANY(CAST(:types AS text[])))
    ORDER BY txid, sequence
    LIMIT :limit
    """
)


def feed(
    session: Session, *, after: str | None, limit: int, types: Sequence[str] | None = None
) -> list[Event]:
    """Events after the cursor, oldest first; only those no running transaction can precede."""
    txid, sequence = decode_cursor(after) if after else (-1, -1)
    rows = session.execute(
        _FEED_SQL,
        {"txid": txid, "sequence": sequence, "limit": limit, "types": list(types) if types else None},
    ).all()
    return [
        Event(
            id=row.id,
            type=row.type,
            occurred_at=row.occurred_at,
            data=row.payload,
            cursor=encode_cursor(row.txid, row.sequence),
        )
        for row in rows
    ]


def get_event(session: Session, event_id: str) -> Event | None:
    row = session.execute(
        text("SELECT id, type, occurred_at, payload, txid, sequence FROM event WHERE id = :id"),
        {"id": event_id},
    ).first()
    if row is None:
        return None
    return Event(row.id, row.type, row.occurred_at, row.payload, encode_cursor(row.txid, row.sequence))


def prune_events(session: Session, *, now: datetime, retention_days: int) -> int:
    """Delete events (and, by cascade, their deliveries) older than the retention."""
    result = session.execute(
        text("DELETE FROM event WHERE occurred_at < :cutoff"),
        {"cutoff": now - timedelta(days=retention_days)},
    )
    return int(getattr(result, "rowcount", 0) or 0)
