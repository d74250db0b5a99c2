"""The `salescoach` command: one entry point, one sub-app per service."""

from __future__ import annotations

import signal
from types import FrameType

import typer
from pydantic import ValidationError

from salescoach_api import cli as api_cli
from salescoach_api.auth import cli as apikey_cli
from salescoach_cli import db, goals, webhooks
from salescoach_cli.doctor import run_doctor
from salescoach_cli.output import fail
from salescoach_cli.run import run_all
from salescoach_core.database import DatabaseUnavailableError, classify_database_fault
from salescoach_core.logging import configure_logging, redact
from salescoach_core.settings import Settings, get_settings
from salescoach_emulator import cli as emulator_cli
from salescoach_sync import cli as sync_cli
from salescoach_sync import writeback_cli

app = typer.Typer(
    name="salescoach",
    help="salescoach: Salesforce sync, scorecards and coaching records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(api_cli.app, name="api")
app.add_typer(sync_cli.app, name="sync")
app.add_typer(emulator_cli.app, name="emulator")
app.add_typer(apikey_cli.app, name="apikey")
app.add_typer(goals.app, name="goals")
app.add_typer(writeback_cli.app, name="writeback")
app.add_typer(webhooks.app, name="webhooks")


@app.callback()
def _configure() -> None:
    settings = _load_settings()
    configure_logging(settings.log_level, settings.log_format)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default action the
    # interpreter would die without running atexit hooks, leaving the embedded PostgreSQL
    # running. Exiting through SystemExit runs them.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        ]
        fail("invalid configuration:\n  " + "\n  ".join(lines))


@app.command()
def doctor() -> None:
    """Check the configuration, the database and the Salesforce mode; non-zero exit on any problem."""
    run_doctor(get_settings())


@app.command()
def run() -> None:
    """The local stack: database, emulator with a demo org (without Salesforce settings), first sync,
    sync worker, admin key, the API on SALESCOACH_API_PORT."""
    run_all(get_settings())


def main() -> None:
    try:
        app()
    except DatabaseUnavailableError as exc:
        fail(str(exc))
    except Exception as exc:
        if classify_database_fault(exc) is None:
            raise
        fail(
            f"the database is unreachable ({_driver_message(exc)}). Check DATABASE_URL (unset: the "
            "embedded server under SALESCOACH_STATE_DIR) and that the server runs; "
            "`salescoach doctor` says more."
        )


def _driver_message(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's wrapping and without credentials."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return str(redact(lines[0]))
