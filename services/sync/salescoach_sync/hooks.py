"""Domain refresh hooks: functions run after each sync pass that changed data (goal progress,
action-item completion hang here). A failing hook is logged and does not fail the sync."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy import Engine

from salescoach_sync.report import SyncReport

log = structlog.get_logger(__name__)

RefreshHook = Callable[[Engine, SyncReport], None]

_hooks: dict[str, RefreshHook] = {}


def register_refresh_hook(name: str, hook: RefreshHook) -> None:
    """Register (or replace) the hook called `name`."""
    _hooks[name] = hook


def unregister_refresh_hook(name: str) -> None:
    _hooks.pop(name, None)


def run_refresh_hooks(engine: Engine, report: SyncReport) -> list[str]:
    """Run every hook when the pass changed something; returns the names of hooks that failed."""
    if not report.changed_objects:
        return []
    failed = []
    for name, hook in list(_hooks.items()):
        try:
            hook(engine, report)
        except Exception:
            log.exception("refresh_hook_failed", hook=name)
            failed.append(name)
        else:
            log.info("refresh_hook_done", hook=name, objects=report.changed_objects)
    return failed
