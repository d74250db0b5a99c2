"""`salescoach run`: the one-command local stack behind `make run`."""

from __future__ import annotations

import uvicorn

from salescoach_api.app import create_app
from salescoach_cli.output import console
from salescoach_core.database import Database
from salescoach_core.database.migrations import revision_state, upgrade
from salescoach_core.settings import Settings


def run_all(settings: Settings) -> None:
    database = Database(settings)
    engine = database.engine()
    upgrade(engine)
    console.print(f"database ready at revision {revision_state(engine).current}")
    console.print(f"API on http://{settings.api_host}:{settings.api_port} (docs at /docs)")
    uvicorn.run(
        create_app(settings, database),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )
