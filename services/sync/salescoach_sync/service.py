"""Entry points the CLI, the worker and `salescoach run` share: one pass, and the status rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, select

from salescoach_core.models import SyncState
from salescoach_core.settings import Settings
from salescoach_sync.coaching_hooks import install_coaching_hooks
from salescoach_sync.engine import SyncEngine
from salescoach_sync.extract import StopToken
from salescoach_sync.progress import SyncProgress
from salescoach_sync.report import SyncReport


def run_once(
    settings: Settings,
    engine: Engine,
    *,
    objects: Sequence[str] | None = None,
    full: bool = False,
    progress: SyncProgress | None = None,
    stop: StopToken | None = None,
) -> SyncReport:
    """One pass over `objects` (all by default); `full` re-reads everything."""
    sync = SyncEngine(settings, engine, progress=progress, stop=stop)
    install_coaching_hooks(settings)
    try:
        return sync.run(objects=objects, full=full)
    finally:
        sync.close()
        if progress is not None:
            progress.close()


def sync_states(session: Session) -> list[SyncState]:
    """Every object's sync state, by object name."""
    return list(session.exec(select(SyncState).order_by(SyncState.object_name)))
