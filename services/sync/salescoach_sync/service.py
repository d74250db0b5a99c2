"""The entry point the CLI, the worker and `salescoach run` share: one pass."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from salescoach_core.settings import Settings
from salescoach_sync.auth import AccessToken
from salescoach_sync.client import SalesforceClient
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
    token: AccessToken | None = None,
) -> SyncReport:
    """One pass over `objects` (all by default); `full` re-reads everything; `token`: a login
    made already (`start_login`)."""
    client = SalesforceClient(settings, token=token)
    sync = SyncEngine(settings, engine, client=client, progress=progress, stop=stop)
    install_coaching_hooks(settings)
    try:
        return sync.run(objects=objects, full=full)
    finally:
        sync.close()
        if progress is not None:
            progress.close()
