"""`salescoach apikey ...`: create, list and revoke API keys from a terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from salescoach_cli.output import command_app, console, fail
from salescoach_core.roles import Role

app = command_app("API keys: create (shown once), list, revoke.")


@app.command("create")
def create_command(
    role: Annotated[Role, typer.Option(help="What the key may do (docs/auth.md, Roles).")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    sf_user_id: Annotated[
        str | None, typer.Option(help="Salesforce User Id the key acts for; required for manager and rep.")
    ] = None,
) -> None:
    """Create a key and print it alone on stdout, once: only its hash is stored."""
    from salescoach_core import api_keys
    from salescoach_core.database import Database, session_scope
    from salescoach_core.errors import DomainError
    from salescoach_core.settings import get_settings

    try:
        with session_scope(Database(get_settings()).engine()) as session:
            new = api_keys.create_api_key(session, name=name, role=role, sf_user_id=sf_user_id)
    except DomainError as exc:
        fail(exc.detail)
    # Plain print, not rich: the key must come out exactly, for `KEY=$(salescoach apikey create ...)`.
    print(new.plaintext)


@app.command("list")
def list_command() -> None:
    """Every key by prefix: name, role, user, created, revoked."""
    from rich.table import Table

    from salescoach_core import api_keys
    from salescoach_core.database import Database, session_scope
    from salescoach_core.settings import get_settings

    with session_scope(Database(get_settings()).engine()) as session:
        rows = api_keys.list_api_keys(session)
    table = Table("prefix", "name", "role", "sf user", "created", "revoked")
    for row in rows:
        table.add_row(
            row.prefix,
            row.name,
            row.role,
            row.sf_user_id or "",
            f"{row.created_at:%Y-%m-%d %H:%M}" if row.created_at else "",
            f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
        )
    console().print(table)


@app.command("revoke")
def revoke_command(prefix: Annotated[str, typer.Argument(help="The key's prefix, as listed.")]) -> None:
    """Revoke a key at once."""
    from salescoach_core import api_keys
    from salescoach_core.database import Database, session_scope
    from salescoach_core.errors import DomainError
    from salescoach_core.settings import get_settings

    try:
        with session_scope(Database(get_settings()).engine()) as session:
            api_keys.revoke_api_key(session, prefix=prefix)
    except DomainError as exc:
        fail(exc.detail)
    console().print(f"revoked {prefix}")
