"""Stored first responses for `Idempotency-Key`: looked up and saved by the API middleware
(salescoach_api.idempotency), pruned after the retention by the worker."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from salescoach_core.models.integrations import IdempotencyRecord


def find(session: Session, *, principal: str, key: str) -> IdempotencyRecord | None:
    return session.get(IdempotencyRecord, (principal, key))


def save(session: Session, record: IdempotencyRecord) -> None:
    """Keep the first response: a concurrent twin that finished first wins, this one is dropped."""
    values = record.model_dump()
    session.execute(insert(IdempotencyRecord).values(**values).on_conflict_do_nothing())


def prune_idempotency_records(session: Session, *, now: datetime, retention_hours: float) -> int:
    result = session.execute(
        text("DELETE FROM idempotency_key WHERE created_at < :cutoff"),
        {"cutoff": now - timedelta(hours=retention_hours)},
    )
    return int(getattr(result, "rowcount", 0) or 0)
