"""The long-running sync loop: a pass every interval (full the first time, incremental after),
stopping gracefully on SIGTERM/SIGINT: the object in progress rolls back to its checkpoint.

Between passes the worker waits on PostgreSQL `LISTEN` (a connection of its own): a commit
that queued a webhook delivery or a write-back row notifies it (salescoach_core.wakeup), and
it sends them at once instead of at the next pass. The pause itself follows the daily API
budget (budget.py)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import psycopg
import structlog
from sqlalchemy import Engine

from salescoach_core.integrations.delivery import DeliveryConfig, deliver_due, run_pass
from salescoach_core.settings import Settings
from salescoach_core.wakeup import WORKER_CHANNEL
from salescoach_sync.budget import daily_budget, pace, record_calls, save_pace
from salescoach_sync.coaching_hooks import after_sync_pass, install_coaching_hooks
from salescoach_sync.engine import SyncEngine
from salescoach_sync.extract import StopToken
from salescoach_sync.progress import SyncProgress
from salescoach_sync.writeback import run_writeback

log = structlog.get_logger(__name__)

# The wait is cut in slices this long so a stop request is seen promptly.
WAIT_SLICE_SECONDS = 1.0
# A lost LISTEN connection is opened again at most this often.
RECONNECT_SECONDS = 5.0


def install_signal_handlers(stop: StopToken) -> None:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("sync_worker_stop_requested", signal=signal.Signals(signum).name)
        stop.request()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


class WakeListener:
    """A dedicated autocommit connection LISTENing on the worker channel. `wait` returns True
    when woken (or when the connection came back after a loss: a notification may have been
    missed meanwhile), False when the timeout passed."""

    def __init__(self, engine: Engine) -> None:
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.Connection[Any] | None = None
        self._tried_at = float("-inf")

    def _connect(self) -> bool:
        self._tried_at = time.monotonic()
        try:
            self._conn = psycopg.connect(self._url, autocommit=True)
            self._conn.execute(f"LISTEN {WORKER_CHANNEL}")
        except psycopg.Error as exc:
            log.warning("sync_worker_listen_unavailable", error=type(exc).__name__)
            self.close()
            return False
        return True

    def wait(self, timeout: float, stop: StopToken) -> bool:
        if self._conn is None:
            if time.monotonic() - self._tried_at >= RECONNECT_SECONDS and self._connect():
                return True
            stop.wait(timeout)
            return False
        assert self._conn is not None
        try:
            woken = any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))
            if woken:  # several commits in a row: one round of work serves them all
                for _ in self._conn.notifies(timeout=0):
                    pass
            return woken
        except psycopg.Error as exc:
            log.warning("sync_worker_listen_lost", error=type(exc).__name__)
            self.close()
            return False

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def _deliver_webhooks(settings: Settings, engine: Engine) -> None:
    # Events of this pass (and any API writes not yet sent) go out now; the database being
    # away must not stop the sync loop (a receiver's failure is recorded on its delivery).
    try:
        run_pass(engine, settings)
    except Exception:
        log.exception("webhook_delivery_pass_crashed")


def _on_wake(settings: Settings, engine: Engine, sync: SyncEngine) -> None:
    """What a commit woke the worker for: the write-back outbox and due webhook deliveries."""
    try:
        run_writeback(settings, engine, client=sync.client)
    except Exception:
        log.exception("writeback_run_crashed")
    try:
        deliver_due(engine, DeliveryConfig.from_settings(settings))
    except Exception:
        log.exception("webhook_delivery_pass_crashed")


def _idle(seconds: float, listener: WakeListener, stop: StopToken, on_wake: Callable[[], None]) -> None:
    deadline = time.monotonic() + seconds
    while not stop.requested:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if listener.wait(min(remaining, WAIT_SLICE_SECONDS), stop):
            on_wake()


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
    base = interval if interval is not None else settings.sync_interval_seconds
    sync = SyncEngine(settings, engine, stop=stop, progress=progress)
    listener = WakeListener(engine)
    install_coaching_hooks(settings)
    passes = 0
    log.info("sync_worker_started", interval_seconds=base, salesforce_mode=settings.salesforce_mode)

    def record(calls: int, passes_done: int) -> tuple[int, int]:
        try:
            return record_calls(engine, calls, passes=passes_done, now=datetime.now(UTC))
        except Exception:
            log.exception("sync_api_usage_not_recorded")
            return calls, passes_done

    def wake() -> None:
        before = sync.api_calls
        _on_wake(settings, engine, sync)
        if sync.api_calls > before:
            record(sync.api_calls - before, 0)

    try:
        listener.wait(0, stop)  # LISTEN before the first pass: nothing committed meanwhile is missed
        while not stop.requested and (max_passes is None or passes < max_passes):
            passes += 1
            before = sync.api_calls
            try:
                with structlog.contextvars.bound_contextvars(pass_number=passes):
                    sync.run()  # logs sync_pass_finished
            except Exception:
                # The database or the network may come back: keep the loop alive.
                log.exception("sync_pass_crashed", number=passes)
            # After the sync, so completions just pulled in are not overwritten by a stale send.
            after_sync_pass(settings, engine, client=sync.client)
            _deliver_webhooks(settings, engine)
            calls_today, passes_today = record(sync.api_calls - before, 1)
            now = datetime.now(UTC)
            result = pace(
                base_interval=base,
                budget=daily_budget(settings, sync.client.quota),
                calls_today=calls_today,
                passes_today=passes_today,
                now=now,
            )
            try:
                save_pace(engine, result, now=now)
            except Exception:
                log.exception("sync_api_usage_not_recorded")
            if result.stretched:
                log.info(
                    "sync_interval_stretched_for_budget",
                    interval_seconds=round(result.interval_seconds, 1),
                    configured_seconds=base,
                    budget=result.budget,
                    calls_today=result.calls_today,
                    projected_calls=result.projected_calls,
                )
            if max_passes is not None and passes >= max_passes:
                break
            _idle(result.interval_seconds, listener, stop, wake)
    finally:
        listener.close()
        sync.close()
        if progress is not None:
            progress.close()
        log.info("sync_worker_stopped", passes=passes)
    return passes
