"""Progress of a pass: a rich progress bar per object on a terminal, structured log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Protocol

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from salescoach_sync.report import ObjectResult

log = structlog.get_logger(__name__)


class SyncProgress(Protocol):
    def started(self, object_name: str, mode: str) -> None: ...
    def total(self, object_name: str, total: int | None) -> None: ...
    def rows(self, object_name: str, done: int) -> None: ...
    def page(self, object_name: str, done: int) -> None: ...
    def finished(self, result: ObjectResult) -> None: ...
    def close(self) -> None: ...


class LogProgress:
    """Log lines only: one when an object starts, one per loaded page (debug), one when it ends."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def started(self, object_name: str, mode: str) -> None:
        self._started[object_name] = time.perf_counter()
        log.info("sync_object_started", object=object_name, mode=mode)

    def total(self, object_name: str, total: int | None) -> None:
        log.info("sync_object_total", object=object_name, total=total)

    def rows(self, object_name: str, done: int) -> None:
        """Rows streamed so far (called per chunk): too often for log lines."""

    def page(self, object_name: str, done: int) -> None:
        elapsed = time.perf_counter() - self._started.get(object_name, time.perf_counter())
        log.debug("sync_page_loaded", object=object_name, rows=done, rows_per_second=_rate(done, elapsed))

    def finished(self, result: ObjectResult) -> None:
        log.info(
            "sync_object_finished",
            object=result.object_name,
            mode=result.mode,
            status=result.status,
            inserted=result.inserted,
            updated=result.updated,
            deleted=result.deleted,
            rows_read=result.rows_read,
            api_calls=result.api_calls,
            seconds=round(result.seconds, 3),
            rows_per_second=_rate(result.rows_read, result.seconds),
            high_water_mark=result.high_water_mark.isoformat() if result.high_water_mark else None,
            error=result.error,
        )

    def close(self) -> None:
        return None


class RichProgress(LogProgress):
    """A bar per object (rows and rate) on stderr, plus the log lines of LogProgress at the end."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self._progress = Progress(
            TextColumn("[bold]{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>12} rows/s"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[str, TaskID] = {}
        self._progress.start()

    def started(self, object_name: str, mode: str) -> None:
        self._started[object_name] = time.perf_counter()
        self._tasks[object_name] = self._progress.add_task(object_name, total=None, rate="", note=mode)

    def total(self, object_name: str, total: int | None) -> None:
        self._progress.update(self._tasks[object_name], total=total)

    def rows(self, object_name: str, done: int) -> None:
        elapsed = time.perf_counter() - self._started[object_name]
        self._progress.update(self._tasks[object_name], completed=done, rate=f"{_rate(done, elapsed):,}")

    def page(self, object_name: str, done: int) -> None:
        self.rows(object_name, done)

    def finished(self, result: ObjectResult) -> None:
        task = self._tasks.get(result.object_name)
        note = (
            result.status
            if result.status != "ok"
            else f"+{result.inserted} ~{result.updated} -{result.deleted}"
        )
        if task is not None:
            self._progress.update(
                task, total=result.rows_read or 1, completed=result.rows_read or 1,
                rate=f"{_rate(result.rows_read, result.seconds):,}", note=note,
            )  # fmt: skip
        super().finished(result)

    def close(self) -> None:
        self._progress.stop()


def _rate(rows: int, seconds: float) -> int:
    return int(rows / seconds) if seconds > 0 else 0


def default_progress() -> SyncProgress:
    return RichProgress() if sys.stderr.isatty() else LogProgress()
