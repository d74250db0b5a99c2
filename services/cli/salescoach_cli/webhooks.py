"""`salescoach webhooks deliver`: drain the webhook delivery queue once, or keep draining it."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from salescoach_cli.output import command_app, console

app = command_app("Webhook deliveries (also sent by the sync worker after each pass).")


@app.command()
def deliver(
    loop: Annotated[
        bool, typer.Option("--loop", help="Keep delivering every SALESCOACH_WEBHOOK_INTERVAL_SECONDS.")
    ] = False,
) -> None:
    """Prune past the retention, then send every due delivery; with --loop, until interrupted."""
    from salescoach_core.database import Database
    from salescoach_core.integrations.delivery import run_pass
    from salescoach_core.settings import get_settings

    settings = get_settings()
    engine = Database(settings).engine()
    while True:
        totals = run_pass(engine, settings)
        console().print(f"delivered {totals.succeeded}, retrying {totals.retrying}, failed {totals.failed}")
        if not loop:
            return
        time.sleep(settings.webhook_interval_seconds)
