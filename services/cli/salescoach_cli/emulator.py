"""`salescoach emulator ...`: generate a demo org, serve an org over HTTPS."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from datetime import date
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from salescoach_cli.output import command_app

if TYPE_CHECKING:
    import structlog

app = command_app(
    "The local Salesforce emulator: a demo org generator and an HTTPS server that "
    "speaks Salesforce's REST, Bulk API 2.0 and OAuth2 protocols."
)


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    import structlog

    # Looked up per logger, so a replaced sys.stderr (test runners) is honoured.
    return structlog.PrintLogger(file=sys.stderr)


def _log_to_stderr(*, force: bool = False) -> None:
    """Structured logs on stderr: stdout carries only the connection JSON line.

    Left alone when the host CLI has configured structlog already, unless ``force`` (``serve``
    must keep stdout clean whatever the host chose).
    """
    import structlog

    if structlog.is_configured() and not force:
        return
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=_stderr_logger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=False,
    )


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into.")],
    reps: Annotated[int, typer.Option(help="Sales reps (one of them inactive).")] = 24,
    managers: Annotated[int, typer.Option(help="Managers; they report to a VP.")] = 3,
    months: Annotated[int, typer.Option(help="Months of history.")] = 12,
    end: Annotated[str | None, typer.Option(help="Last day of the data, YYYY-MM-DD (default today).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same org.")] = 1,
    activities_per_rep_week: Annotated[
        int, typer.Option(help="Average Tasks per rep per week (Events are 1/8 of that).")
    ] = 40,
    opportunities_per_rep_month: Annotated[
        float, typer.Option(help="Average opportunities a rep starts per month (skill scales it 0.6-1.2x).")
    ] = 6.5,
) -> None:
    """Write a realistic, deterministic demo org as Object.csv files."""
    import structlog

    from salescoach_emulator.generate import generate_org

    _log_to_stderr()
    result = generate_org(
        out,
        reps=reps,
        managers=managers,
        months=months,
        end=date.fromisoformat(end) if end else None,
        seed=seed,
        activities_per_rep_week=activities_per_rep_week,
        opportunities_per_rep_month=opportunities_per_rep_month,
    )
    structlog.get_logger(__name__).info(
        "emulator.generate_done", out=str(out), counts=result.counts, seconds=round(result.seconds, 2)
    )


@app.command()
def serve(
    org: Annotated[Path, typer.Option("--org", help="Org folder (Object.csv files).")],
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8443,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="CA, keys, credentials and SQLite cache (default ORG/.emulator)."),
    ] = None,
    faults: Annotated[str | None, typer.Option(help="Fault spec, e.g. 'seed=1,503@0.1'.")] = None,
    persist: Annotated[bool, typer.Option(help="Write changes back to the org on exit.")] = False,
    token_ttl: Annotated[float, typer.Option(help="Access token lifetime in seconds.")] = 7200,
    daily_api_limit: Annotated[
        int | None, typer.Option(help="DailyApiRequests Max (default: the emulator's, an Enterprise org's).")
    ] = None,
) -> None:
    """Serve ORG over HTTPS; print one JSON line with the connection details."""
    from salescoach_emulator.runner import DEFAULT_DAILY_API_LIMIT, start_emulator

    _log_to_stderr(force=True)
    if not org.is_dir():
        raise typer.BadParameter(f"{org} is not a folder", param_hint="--org")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with start_emulator(
        org,
        state_dir=state_dir or org / ".emulator",
        host=host,
        port=port,
        faults=faults,
        token_ttl=token_ttl or None,
        daily_api_limit=DEFAULT_DAILY_API_LIMIT if daily_api_limit is None else daily_api_limit,
        persist=persist,
    ) as emu:
        sys.stdout.write(json.dumps(emu.connection_info()) + "\n")
        sys.stdout.flush()
        while not stop.is_set():
            time.sleep(0.2)
