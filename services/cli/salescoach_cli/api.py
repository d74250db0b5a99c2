"""`salescoach api ...`: serve the REST API, print its OpenAPI document."""

from __future__ import annotations

from typing import Annotated

import typer

from salescoach_cli.output import command_app

app = command_app("The REST API.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind. Default: SALESCOACH_API_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Port. Default: SALESCOACH_API_PORT (8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API until SIGTERM/SIGINT (graceful: in-flight requests finish)."""
    import uvicorn

    from salescoach_core.settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "salescoach_api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@app.command()
def openapi() -> None:
    """Print the OpenAPI document (docs/openapi.json is this output)."""
    import json

    from salescoach_api.app import create_app
    from salescoach_core.settings import get_settings

    # Plain echo, not the rich console: the document must come out byte for byte.
    typer.echo(json.dumps(create_app(get_settings()).openapi(), indent=2, sort_keys=True))
