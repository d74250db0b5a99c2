"""`salescoach writeback run`: send the write-back outbox to Salesforce once, then exit.

Exit codes: 0 done (permanent per-item failures are recorded on the items, not an exit code),
1 the run could not reach Salesforce or was refused.
"""

from __future__ import annotations

from typing import Annotated

import typer

from salescoach_cli.output import command_app, console, fail

app = command_app("Write-back of action items and activity goals to Salesforce Tasks.")


@app.command("run")
def run_command(
    close_goals: Annotated[
        bool, typer.Option("--close-goals/--no-close-goals", help="Also close goals whose period ended.")
    ] = True,
) -> None:
    """Send every due outbox row (as the worker does after each sync pass)."""
    from salescoach_core.database import Database, DatabaseUnavailableError
    from salescoach_core.settings import get_settings
    from salescoach_sync.coaching_hooks import after_sync_pass
    from salescoach_sync.writeback import run_writeback

    settings = get_settings()
    try:
        engine = Database(settings).engine()
    except DatabaseUnavailableError as exc:
        fail(str(exc))
    report = after_sync_pass(settings, engine) if close_goals else run_writeback(settings, engine)
    console().print(
        f"sent {report.sent:,}, failed {report.failed:,}, retrying later {report.retried:,}, "
        f"{report.requests:,} requests in {report.seconds:.1f} s"
    )
    if report.errors and not report.sent:
        fail(report.errors[0])
