"""Waking the worker on commit: a transaction that leaves it work (a webhook delivery, a
write-back outbox row) issues `pg_notify`, which PostgreSQL delivers to listeners only when
that transaction commits (and never if it rolls back). Several in one transaction arrive once."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import text
from sqlmodel import Session

WORKER_CHANNEL = "salescoach_worker"
_NOTIFY_SQL = "SELECT pg_notify(%(channel)s, %(reason)s)"
_NOTIFY_TEXT = text("SELECT pg_notify(:channel, :reason)")


class PsycopgConnection(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...


def notify_worker(session: Session, reason: str) -> None:
    """Wake the worker when the session's transaction commits (`reason`: what for, for logs)."""
    session.execute(_NOTIFY_TEXT, {"channel": WORKER_CHANNEL, "reason": reason})


def notify_worker_raw(conn: PsycopgConnection, reason: str) -> None:
    """`notify_worker` on a psycopg connection, inside whatever transaction it has open."""
    conn.execute(_NOTIFY_SQL, {"channel": WORKER_CHANNEL, "reason": reason})
