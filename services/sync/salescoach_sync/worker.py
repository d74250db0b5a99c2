"""The long-running sync loop: a pass every interval (full the first time, incremental after),
stopping gracefully on SIGTERM/SIGINT: the object in progress rolls back to its checkpoint."""

from __future__ import annotations

import signal
from types import FrameType

import structlog
from sqlalchemy import Engine

from salescoach_core.integrations.delivery import run_pass
from salescoach_core.settings import Settings
from salescoach_sync.coaching_hooks import after_sync_pass, install_coaching_hooks
from salescoach_sync.engine import SyncEngine
from salescoach_sync.extract import StopToken
from salescoach_sync.progress import SyncProgress

log = structlog.get_logger(__name__)


def install_signal_handlers(stop: StopToken) -> None:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("sync_worker_stop_requested", signal=signal.Signals(signum).name)
        stop.request()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def _deliver_webhooks(settings: Settings, engine: Engine) -> None:
    # Events of this pass (and of API writes since the last one) go out now; the database being
    # away must not stop the sync loop (a receiver's failure is recorded on its delivery).
    try:
        run_pass(engine, settings)
    except Exception:
        log.exception("webhook_delivery_pass_crashed")


def run_worker(
    settings: Settings,
    engine: Engine,
    *,
    interval: float | None = None,
    stop: StopToken | None = None,
    progress: SyncProgress | None = None,
    max_passes: int | None = None,
) -> int:
    """Sync until stopped (or `max_passes` passes); returns the number of passes run."""
    stop = stop or StopToken()
    pause = interval if interval is not None else settings.sync_interval_seconds
    sync = SyncEngine(settings, engine, stop=stop, progress=progress)
    install_coaching_hooks(settings)
    passes = 0
    log.info("sync_worker_started", interval_seconds=pause)
    try:
        while not stop.requested and (max_passes is None or passes < max_passes):
            passes += 1
            try:
                with structlog.contextvars.bound_contextvars(pass_number=passes):
                    sync.run()  # logs sync_pass_finished
            except Exception:
                # The database or the network may come back: keep the loop alive.
                log.exception("sync_pass_crashed", number=passes)
            # After the sync, so completions just pulled in are not overwritten by a stale send.
            after_sync_pass(settings, engine, client=sync.client)
            _deliver_webhooks(settings, engine)
            if max_passes is not None and passes >= max_passes:
                break
            stop.wait(pause)
    finally:
        sync.close()
        if progress is not None:
            progress.close()
        log.info("sync_worker_stopped", passes=passes)
    return passes
