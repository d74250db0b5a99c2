"""Domain events: written in the transaction of the change they record, fanned out to the
webhook deliveries of subscribed endpoints in the same statement, and read back by the feed.

A feed cursor must never be overtaken by a later commit. Insert order (`sequence`) cannot give
that: a transaction that commits late can hold a lower sequence than one a reader has already
passed. So events get their feed `position` when they are published: one publisher at a time
(a transaction-scoped advisory lock) numbers every committed, unpublished event after the
highest position so far. What commits later is published later, with higher positions.
Readers publish before they read (`GET /v1/events`), and positions are durable, so a cursor
stays valid across restarts.
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

from salescoach_core.errors import InvalidCursorError
from salescoach_core.wakeup import notify_worker, notify_worker_raw

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


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _params(type_: EventType, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {"id": new_event_id(), "type": type_, "occurred_at": now, "payload": json.dumps(data, default=str)}


def emit(session: Session, type_: EventType, data: Mapping[str, Any], *, now: datetime) -> str:
    """Record an event in the session's transaction; returns its id. When it queued webhook
    deliveries, the worker wakes on commit to send them (not at its next sync pass)."""
    params = _params(type_, data, now)
    result = session.execute(_EMIT_TEXT, params)
    if getattr(result, "rowcount", 0):
        notify_worker(session, "webhook")
    return str(params["id"])


def emit_raw(conn: PsycopgConnection, type_: EventType, data: Mapping[str, Any], *, now: datetime) -> str:
    """`emit` on a psycopg connection, inside whatever transaction it has open."""
    params = _params(type_, data, now)
    cursor = conn.execute(EMIT_SQL, params)
    if getattr(cursor, "rowcount", 0):
        notify_worker_raw(conn, "webhook")
    return str(params["id"])


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("p"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError("`cursor` is not one this feed handed out; start again without it.") from exc


# Any fixed key: it only has to differ from the other advisory locks of the product.
_PUBLISH_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('salescoach:event-publish'))")
# A statement of its own, after the lock: under READ COMMITTED it sees every position the
# previous publisher committed before releasing the lock.
_PUBLISH_SQL = text(
    """
    UPDATE event SET position = ordered.base + ordered.n
    FROM (
        SELECT sequence,
               row_number() OVER (ORDER BY sequence) AS n,
               (SELECT coalesce(max(position), 0) FROM event) AS base
        FROM event WHERE position IS NULL
    ) AS ordered
    WHERE event.sequence = ordered.sequence
    """
)


def publish(session: Session) -> int:
    """Give feed positions to committed events that have none; returns how many. When another
    publisher is at work this one does nothing (it will have published them)."""
    if not session.execute(_PUBLISH_LOCK).scalar_one():
        return 0
    result = session.execute(_PUBLISH_SQL)
    return int(getattr(result, "rowcount", 0) or 0)


_FEED_SQL = text(
    """
    SELECT id, type, occurred_at, payload, position
    FROM event
    WHERE position > :after
      AND (CAST(:types AS text[]) IS NULL OR type = ANY(CAST(:types AS text[])))
    ORDER BY position
    LIMIT :limit
    """
)


def feed(
    session: Session, *, after: str | None, limit: int, types: Sequence[str] | None = None
) -> list[Event]:
    """Published events after the cursor, in feed order (publish first to include the newest)."""
    rows = session.execute(
        _FEED_SQL,
        {
            "after": decode_cursor(after) if after else 0,
            "limit": limit,
            "types": list(types) if types else None,
        },
    ).all()
    return [
        Event(
            id=row.id,
            type=row.type,
            occurred_at=row.occurred_at,
            data=row.payload,
            cursor=encode_cursor(row.position),
        )
        for row in rows
    ]


def prune_events(session: Session, *, now: datetime, retention_days: int) -> int:
    """Delete events (and, by cascade, their deliveries) older than the retention."""
    result = session.execute(
        text("DELETE FROM event WHERE occurred_at < :cutoff"),
        {"cutoff": now - timedelta(days=retention_days)},
    )
    return int(getattr(result, "rowcount", 0) or 0)
