"""`salescoach doctor`: where each setting came from, and whether the parts answer."""

from __future__ import annotations

from rich.table import Table
from sqlalchemy import text

from salescoach_cli.output import console, fail
from salescoach_core.database import Database
from salescoach_core.database.embedded import tcp_connection_hint
from salescoach_core.database.migrations import revision_state
from salescoach_core.settings import Settings, describe_sources


def run_doctor(settings: Settings) -> None:
    table = Table(title="settings", show_lines=False)
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    table.add_column("from")
    for row in describe_sources(settings):
        table.add_row(row.name, row.value, row.source)
    console().print(table)

    problems: list[str] = []
    where = "external (DATABASE_URL)" if settings.database_url else f"embedded, under {settings.state_dir}"
    try:
        engine = Database(settings).engine()
        with engine.connect() as conn:
            server_version = conn.execute(text("SHOW server_version")).scalar_one()
        state = revision_state(engine)
        console().print(f"database: {where}, PostgreSQL {server_version}, reachable")
        if settings.database_url is None:
            for line in tcp_connection_hint(settings):
                console().print(line, markup=False, soft_wrap=True)
        if state.at_head:
            console().print(f"migrations: at head ({state.head})")
        elif state.ahead:
            console().print(f"migrations: at {state.current}, ahead of this release's head {state.head}")
        else:
            problems.append(
                f"migrations: database at {state.current or 'no revision'}, head is {state.head}; "
                "run `salescoach db upgrade`"
            )
    except Exception as exc:
        problems.append(f"database ({where}) unreachable: {str(exc).strip().splitlines()[0]}")

    if settings.salesforce_mode == "real":
        console().print(f"salesforce: real org via {settings.sf_login_url}")
        has_secret = settings.sf_client_secret is not None
        has_jwt = settings.sf_jwt_key_file is not None and settings.sf_username is not None
        if not (has_secret or has_jwt):
            problems.append(
                "salesforce: SALESCOACH_SF_CLIENT_ID is set but neither SALESCOACH_SF_CLIENT_SECRET "
                "nor SALESCOACH_SF_JWT_KEY_FILE with SALESCOACH_SF_USERNAME is"
            )
        if settings.sf_jwt_key_file is not None and not settings.sf_jwt_key_file.is_file():
            problems.append(
                f"salesforce: SALESCOACH_SF_JWT_KEY_FILE {settings.sf_jwt_key_file} does not exist"
            )
    else:
        reason = (
            f"at {settings.sf_login_url}" if settings.sf_client_id else "(no SALESCOACH_SF_CLIENT_ID set)"
        )
        console().print(f"salesforce: local emulator {reason}")

    if problems:
        for problem in problems:
            console().print(f"[red]problem:[/] {problem}")
        fail(f"{len(problems)} problem(s) found")
    console().print("[green]all checks passed[/]")
