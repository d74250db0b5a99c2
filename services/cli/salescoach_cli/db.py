"""`salescoach db ...`: migrations and the models-versus-migrations check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from salescoach_cli.output import command_app, console, fail

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = command_app("Database schema and migrations.")


def _engine() -> Engine:
    from salescoach_core.database import Database
    from salescoach_core.settings import get_settings

    return Database(get_settings()).engine()


@app.command("upgrade")
def upgrade_command(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from salescoach_core.database.migrations import revision_state, upgrade

    engine = _engine()
    before = revision_state(engine)
    upgrade(engine, revision)
    if before.ahead:
        console().print(
            f"database at {before.current}, ahead of this release's head {before.head} "
            "(a newer release migrated it): nothing to do"
        )
        return
    after = revision_state(engine)
    console().print(f"database at {after.current} (was {before.current or 'empty'})")


@app.command("current")
def current_command() -> None:
    """Print the database's revision and the code's head."""
    from salescoach_core.database.migrations import revision_state

    state = revision_state(_engine())
    console().print(f"current: {state.current or '(none)'}  head: {state.head}  schema: {state.schema}")
    if not state.serves:
        fail("database is not at head: run `salescoach db upgrade`")


@app.command("check")
def check_command() -> None:
    """Fail when the table models and the migrations disagree (a model changed without a migration)."""
    from salescoach_core.database.migrations import schema_drift

    drift = schema_drift(_engine())
    if drift:
        for diff in drift:
            console().print(f"  {diff}", markup=False)
        fail(
            f"models and migrations disagree ({len(drift)} difference(s) above): "
            'add a migration with `salescoach db revision -m "what changed"`'
        )
    console().print("models and migrations agree")


@app.command("revision")
def revision_command(
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration changes.")],
) -> None:
    """Autogenerate a migration from the models (review it before committing)."""
    from salescoach_core.database.migrations import new_revision

    new_revision(_engine(), message)


@app.command("grant-bi")
def grant_bi_command(
    role: Annotated[str, typer.Argument(help="PostgreSQL role that BI tools log in as.")],
    password: Annotated[
        str | None,
        typer.Option(
            envvar="SALESCOACH_BI_PASSWORD", help="Create ROLE as a login with this password if missing."
        ),
    ] = None,
) -> None:
    """Give ROLE read-only access to the `bi` views (docs/integrations.md), and nothing else."""
    from salescoach_core.integrations import bi

    with _engine().begin() as conn:
        created = bi.grant_bi(conn, role, password=password)
    console().print(f"{'created login ' if created else ''}{role}: SELECT on every view of schema bi")
