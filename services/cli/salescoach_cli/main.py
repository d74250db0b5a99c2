"""The `salescoach` command: one entry point, one sub-app per service.

Sub-command modules import only typer at the top and the service code inside each command, so
`salescoach --help` and every command load no more than they use (tests/cli/test_startup.py).
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import TYPE_CHECKING

from salescoach_cli import api, apikey, db, emulator, goals, sync, webhooks, writeback
from salescoach_cli.output import command_app, fail

if TYPE_CHECKING:
    from salescoach_core.settings import Settings

app = command_app("salescoach: Salesforce sync, scorecards and coaching records.", name="salescoach")
app.add_typer(db.app, name="db")
app.add_typer(api.app, name="api")
app.add_typer(sync.app, name="sync")
app.add_typer(emulator.app, name="emulator")
app.add_typer(apikey.app, name="apikey")
app.add_typer(goals.app, name="goals")
app.add_typer(writeback.app, name="writeback")
app.add_typer(webhooks.app, name="webhooks")


@app.callback()
def _configure() -> None:
    from salescoach_core.logging import configure_logging

    settings = _load_settings()
    configure_logging(settings.log_level, settings.log_format)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default action the
    # interpreter would die without running atexit hooks, leaving the embedded PostgreSQL
    # running. Exiting through SystemExit runs them.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _load_settings() -> Settings:
    from pydantic import ValidationError

    from salescoach_core.settings import get_settings

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
    from salescoach_cli.doctor import run_doctor
    from salescoach_core.settings import get_settings

    run_doctor(get_settings())


@app.command()
def run() -> None:
    """The local stack: database, emulator with a demo org (without Salesforce settings), first sync,
    sync worker, admin key, the API on SALESCOACH_API_PORT."""
    from salescoach_cli.run import run_all
    from salescoach_core.settings import get_settings

    run_all(get_settings())


def main() -> None:
    try:
        app()
    except Exception as exc:
        # Imported only on failure: `--help` and the commands that never reach a database must
        # not pay for SQLAlchemy.
        from salescoach_core.database import DatabaseUnavailableError, classify_database_fault

        if isinstance(exc, DatabaseUnavailableError):
            fail(str(exc))
        if classify_database_fault(exc) is None:
            raise
        fail(
            f"the database is unreachable ({_driver_message(exc)}). Check DATABASE_URL (unset: the "
            "embedded server under SALESCOACH_STATE_DIR) and that the server runs; "
            "`salescoach doctor` says more."
        )


def _driver_message(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's wrapping and without credentials."""
    from salescoach_core.logging import redact

    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return str(redact(lines[0]))
