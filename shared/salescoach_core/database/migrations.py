"""Alembic, driven from code: upgrade, revision state, and the models-versus-migrations check."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import Engine, MetaData, create_engine
from sqlalchemy.engine import make_url

from salescoach_core.models import metadata as models_metadata

SCRIPT_LOCATION = "salescoach_core:migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction; nothing when a newer release has
    already migrated the database further (`RevisionState.ahead`)."""
    if revision_state(engine).ahead:
        return
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@dataclass(frozen=True)
class Migrations:
    """The migration scripts of this code: every revision they define, and the head."""

    revisions: frozenset[str]
    head: str | None


@cache
def migrations() -> Migrations:
    """Read from the scripts once per process: they cannot change while it runs (a revision
    `new_revision` writes is seen by the next process). Reading them costs milliseconds, which
    every `/readyz` probe would otherwise pay."""
    script = ScriptDirectory.from_config(alembic_config())
    return Migrations(
        revisions=frozenset(rev.revision for rev in script.walk_revisions()), head=script.get_current_head()
    )


def head_revision() -> str | None:
    return migrations().head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class SchemaState(StrEnum):
    """`RevisionState.schema`: the one spelling of where the schema stands, which `salescoach db
    current` prints and `/readyz` answers."""

    AT_HEAD = "at_head"
    AHEAD = "ahead"
    BEHIND = "behind"

    @property
    def serves(self) -> bool:
        """This code serves a schema at its head or ahead of it (migrations only add)."""
        return self is not SchemaState.BEHIND


@dataclass(frozen=True)
class RevisionState:
    """Where the database's schema stands against this code's migrations.

    `ahead`: the database is at a revision this code does not know, so a newer release migrated
    it. Migrations only add (docs/development.md, "Migrations"), so this code still works on it:
    it serves, and `upgrade` leaves the schema alone. Behind (a known revision short of the head,
    or none) it does not serve until `salescoach db upgrade` has run."""

    current: str | None
    head: str | None
    ahead: bool = False

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def serves(self) -> bool:
        return self.schema.serves

    @property
    def schema(self) -> SchemaState:
        if self.at_head:
            return SchemaState.AT_HEAD
        return SchemaState.AHEAD if self.ahead else SchemaState.BEHIND


def revision_state_of(current: str | None) -> RevisionState:
    scripts = migrations()
    known = current is None or current in scripts.revisions
    return RevisionState(current=current, head=scripts.head, ahead=not known)


def revision_state(engine: Engine) -> RevisionState:
    return revision_state_of(current_revision(engine))


@contextmanager
def scratch_database(engine: Engine) -> Iterator[Engine]:
    """A throw-away database on the same server, dropped afterwards."""
    name = f"salescoach_scratch_{secrets.token_hex(6)}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)).as_string())
    scratch = create_engine(
        make_url(str(engine.url.render_as_string(hide_password=False))).set(database=name)
    )
    try:
        yield scratch
    finally:
        scratch.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)).as_string()
            )


def schema_drift(engine: Engine, metadata: MetaData = models_metadata) -> list[Any]:
    """Differences between the table models and the schema the migrations build.

    Runs every migration on a scratch database, so the answer does not depend on the state
    of the working database. An empty list means models and migrations agree.
    """
    with scratch_database(engine) as scratch:
        upgrade(scratch)
        with scratch.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))


def new_revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the models, against a scratch database at head."""
    with scratch_database(engine) as scratch:
        upgrade(scratch)
        cfg = alembic_config()
        with scratch.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True)
