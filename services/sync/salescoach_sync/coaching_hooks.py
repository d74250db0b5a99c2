"""The coaching side of the sync worker: after a pass that changed data, complete the action
items whose Tasks were closed in Salesforce and refresh goal progress (a refresh hook); after
every pass, close goals whose period ended and send the write-back outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine

from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.goals import close_due_goals
from salescoach_core.coaching.refresh import refresh_after_sync
from salescoach_core.database import session_scope
from salescoach_core.settings import Settings
from salescoach_sync.client import SalesforceClient
from salescoach_sync.hooks import register_refresh_hook
from salescoach_sync.report import SyncReport
from salescoach_sync.writeback import WritebackReport, run_writeback

log = structlog.get_logger(__name__)

HOOK_NAME = "coaching"


class CoachingRefreshHook:
    """Runs `refresh_after_sync` in its own transaction with the worker's settings."""

    def __init__(self, settings: Settings) -> None:
        self._config = CoachingConfig.from_settings(settings)

    def __call__(self, engine: Engine, report: SyncReport) -> None:
        with session_scope(engine) as session:
            refresh_after_sync(session, now=datetime.now(UTC), config=self._config)


def install_coaching_hooks(settings: Settings) -> None:
    """Register the coaching refresh hook (replacing any earlier registration)."""
    register_refresh_hook(HOOK_NAME, CoachingRefreshHook(settings))


def after_sync_pass(
    settings: Settings, engine: Engine, *, client: SalesforceClient | None = None
) -> WritebackReport:
    """Close goals whose period ended (time passes even when no data changed), then send the
    outbox. Never raises: a failure is logged and the next pass tries again."""
    try:
        with session_scope(engine) as session:
            close_due_goals(session, now=datetime.now(UTC), config=CoachingConfig.from_settings(settings))
    except Exception:
        log.exception("goals_close_due_failed")
    try:
        return run_writeback(settings, engine, client=client)
    except Exception:
        log.exception("writeback_run_crashed")
        return WritebackReport(errors=["crashed; see the log"])
