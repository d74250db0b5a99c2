"""The sync's state as `salescoach sync status`, `GET /v1/sync/status` and `/metrics` read it:
one row per synced object, and the worker's API usage for the day."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from salescoach_core.models import SyncApiUsage, SyncState


def list_sync_states(session: Session) -> list[SyncState]:
    """Every object's sync state, by object name."""
    return list(session.exec(select(SyncState).order_by(SyncState.object_name)))


def api_usage_today(session: Session, now: datetime) -> SyncApiUsage | None:
    """The worker's row for today (UTC), if it ran a pass today."""
    return session.get(SyncApiUsage, now.astimezone(UTC).date())
