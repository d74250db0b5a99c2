"""Reading the sync state rows."""

from __future__ import annotations

from sqlmodel import Session, select

from salescoach_core.models import SyncState


def list_sync_states(session: Session) -> list[SyncState]:
    return list(session.exec(select(SyncState).order_by(SyncState.object_name)))
