"""`salescoach sync ...`: one pass (`run`), the loop (`worker`) and `status`.

Exit codes: 0 done, 1 failed (the message says what to do), 3 stopped by the API quota guard
(checkpoints kept; run again later).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from salescoach_cli.output import command_app, console, fail

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from salescoach_core.models import SyncApiUsage
    from salescoach_core.settings import Settings
    from salescoach_sync.report import SyncReport

EXIT_FAILED = 1
EXIT_QUOTA = 3

app = command_app("Salesforce sync: pull the synced objects into PostgreSQL.")


def _engine(settings: Settings) -> Engine:
    from salescoach_core.database import Database, DatabaseUnavailableError

    try:
        return Database(settings).engine()
    except DatabaseUnavailableError as exc:
        fail(str(exc))


def _objects(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


@app.command("run")
def run_command(
    full: Annotated[bool, typer.Option("--full", help="Re-read every record, not just changes.")] = False,
    objects: Annotated[
        str | None,
        typer.Option(
            "--objects", help="Comma-separated object names, e.g. Task,Event (an unknown one is refused)."
        ),
    ] = None,
) -> None:
    """One sync pass, then exit; non-zero exit when an object failed or the quota guard stopped it."""
    from salescoach_core.settings import get_settings
    from salescoach_sync.auth import start_login

    settings = get_settings()
    # The login goes first, on its own thread: its round trip overlaps the imports below.
    login = start_login(settings)

    from salescoach_core.database import DatabaseUnavailableError
    from salescoach_sync.extract import StopToken
    from salescoach_sync.progress import default_progress
    from salescoach_sync.service import run_once
    from salescoach_sync.worker import install_signal_handlers

    stop = StopToken()
    install_signal_handlers(stop)
    engine = _engine(settings)
    # A failed early login is left to the pass, which logs in again and reports it per object
    # (retrying an outage, naming refused credentials) as it does without one.
    token = login.result() if login.exception() is None else None
    try:
        report = run_once(
            settings,
            engine,
            objects=_objects(objects),
            full=full,
            progress=default_progress(),
            stop=stop,
            token=token,
        )
    except (ValueError, DatabaseUnavailableError) as exc:
        fail(str(exc))
    _exit_for(report)


def _exit_for(report: SyncReport) -> None:
    if report.stopped_by_quota:
        first = report.first_error
        fail(first.error if first and first.error else "stopped by the API quota guard", EXIT_QUOTA)
    if not report.ok:
        # Objects failing for one reason (Salesforce unreachable, a bad secret) are one line.
        by_error: dict[str | None, list[str]] = {}
        for result in report.results:
            if result.status not in ("ok", "skipped"):
                by_error.setdefault(result.error, []).append(result.object_name)
        lines = [f"{', '.join(names)}: {error}" for error, names in by_error.items()]
        fail("sync failed: " + lines[0] if len(lines) == 1 else "sync failed\n  " + "\n  ".join(lines))


@app.command("worker")
def worker_command(
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval", min=0.0, help="Seconds between passes (default SALESCOACH_SYNC_INTERVAL_SECONDS)."
        ),
    ] = None,
) -> None:
    """Sync forever: a full pass the first time, incremental after; graceful on SIGTERM."""
    from salescoach_core.settings import get_settings
    from salescoach_sync.extract import StopToken
    from salescoach_sync.worker import install_signal_handlers, run_worker

    settings = get_settings()
    stop = StopToken()
    install_signal_handlers(stop)
    run_worker(settings, _engine(settings), interval=interval, stop=stop)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


@app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Per object: the last run's mode, status, times, row counts, high-water mark, API calls,
    error; then the worker's API calls today against its budget."""
    import json
    from datetime import UTC

    from rich.table import Table
    from sqlmodel import Session

    from salescoach_core.settings import get_settings
    from salescoach_core.sync_status import api_usage_today, list_sync_states

    settings = get_settings()
    with Session(_engine(settings)) as session:
        states = list_sync_states(session)
        usage = api_usage_today(session, datetime.now(UTC))
    if as_json:
        body = {
            "items": [s.model_dump(mode="json") for s in states],
            "api_usage": usage.model_dump(mode="json") if usage else None,
        }
        console().print_json(json.dumps(body))
        return
    if not states:
        console().print("no sync has run yet: `salescoach sync run`")
        return
    table = Table(title="salescoach sync status")
    for column in ("object", "mode", "status", "started", "finished", "inserted", "updated", "deleted"):
        table.add_column(column, justify="right" if column in ("inserted", "updated", "deleted") else "left")
    table.add_column("high-water mark")
    table.add_column("API calls", justify="right")
    table.add_column("last error", overflow="fold")
    for s in states:
        table.add_row(
            s.object_name,
            s.last_mode or "-",
            s.last_status or "-",
            _when(s.last_started_at),
            _when(s.last_finished_at),
            f"{s.rows_inserted:,}",
            f"{s.rows_updated:,}",
            f"{s.rows_deleted:,}",
            _when(s.high_water_mark),
            f"{s.api_calls:,}",
            s.last_error or "",
        )
    console().print(table)
    if usage is not None:
        console().print(_usage_line(usage, settings))


def _usage_line(usage: SyncApiUsage, settings: Settings) -> str:
    budget = f"of a budget of {usage.budget:,}" if usage.budget else "(no daily budget set)"
    line = f"API calls today: {usage.calls:,} in {usage.passes:,} passes {budget}"
    if usage.projected_calls is not None:
        line += f"; projected for the day: {usage.projected_calls:,}"
    configured = settings.sync_interval_seconds
    if usage.interval_seconds is not None and usage.interval_seconds > configured:
        line += f"; pause stretched to {usage.interval_seconds:,.0f} s (configured {configured:g} s)"
    return line
