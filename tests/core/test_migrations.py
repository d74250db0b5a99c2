"""Schema v1 through Alembic: tables, keys, indexes, constraints, and the drift check."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Column, Engine, MetaData, Text, create_engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from tests.plugins.database import create_database, drop_database

from salescoach_core.database.migrations import head_revision, revision_state, schema_drift, upgrade
from salescoach_core.models import Quota, metadata

SYNCED_TABLES = {
    "sf_user",
    "sf_opportunity",
    "sf_opportunity_history",
    "sf_opportunity_stage",
    "sf_task",
    "sf_event",
}


def test_migrated_database_is_at_head_with_every_table(engine: Engine) -> None:
    assert revision_state(engine).current == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert SYNCED_TABLES | {"sync_state", "quota", "alembic_version"} <= tables


def test_salesforce_ids_are_18_character_primary_keys(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in SYNCED_TABLES:
        assert inspector.get_pk_constraint(table)["constrained_columns"] == ["id"]
        id_column = next(c for c in inspector.get_columns(table) if c["name"] == "id")
        assert id_column["type"].length == 18


def test_scorecard_indexes_exist(engine: Engine) -> None:
    inspector = inspect(engine)
    names = {ix["name"] for t in SYNCED_TABLES for ix in inspector.get_indexes(t)}
    assert {
        "ix_sf_opportunity_owner_id_created_date",
        "ix_sf_opportunity_owner_id_close_date",
        "ix_sf_opportunity_history_opportunity_id_created_date",
        "ix_sf_task_owner_id_completed_date_time",
        "ix_sf_event_owner_id_start_date_time",
        "ix_sf_user_manager_id",
    } <= names


def test_models_and_migrations_agree(engine: Engine) -> None:
    assert schema_drift(engine) == []


def test_a_model_change_without_migration_is_drift(engine: Engine) -> None:
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["sf_user"].append_column(Column("nickname", Text))
    drift = schema_drift(engine, changed)
    assert [(d[0], d[3].name) for d in drift] == [("add_column", "nickname")]


def test_downgrade_to_base_and_upgrade_again(server_engine: Engine) -> None:
    url = create_database(server_engine, "salescoach_roundtrip")
    engine = create_engine(url)
    try:
        upgrade(engine)
        from alembic import command

        from salescoach_core.database.migrations import alembic_config

        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(engine)
        assert revision_state(engine).at_head
    finally:
        engine.dispose()
        drop_database(server_engine, url)


def test_quota_month_must_be_the_first_day(db_session: Session) -> None:
    db_session.add(Quota(rep_id="005000000000001AAA", month=date(2026, 10, 15), amount=Decimal(1)))
    with pytest.raises(IntegrityError, match="ck_quota_month_is_first_day"):
        db_session.flush()


def test_one_quota_per_rep_and_month(db_session: Session) -> None:
    db_session.add(Quota(rep_id="005000000000001AAA", month=date(2026, 10, 1), amount=Decimal(50000)))
    db_session.flush()
    db_session.add(Quota(rep_id="005000000000001AAA", month=date(2026, 10, 1), amount=Decimal(1)))
    with pytest.raises(IntegrityError, match="uq_quota_rep_id_month"):
        db_session.flush()


def _run_cli(args: list[str], database_url: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(prelude) + "\nfrom salescoach_cli.main import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


def test_db_check_command_passes_on_the_committed_models(database_url: str) -> None:
    result = _run_cli(["db", "check"], database_url)
    assert result.returncode == 0, result.stderr
    assert "agree" in result.stdout


def test_db_check_command_fails_when_a_model_changes_without_migration(database_url: str) -> None:
    prelude = """
        from sqlalchemy import Column, Text
        from salescoach_core.models import SfOpportunity
        SfOpportunity.__table__.append_column(Column("next_step", Text))
    """
    result = _run_cli(["db", "check"], database_url, prelude)
    assert result.returncode == 1
    assert "next_step" in result.stdout
    assert "salescoach db revision" in result.stderr


# Released before the rule below: it dropped the event feed's txid column, which no release
# still running at the time read.
BEFORE_THE_ADD_ONLY_RULE = {"1ed8e4fa92e0"}
REMOVING_OPERATIONS = ("drop_", "rename_", "alter_column")
REMOVING_SQL = ("DROP ", "RENAME ", "ALTER COLUMN")


def test_migrations_only_add_so_the_previous_release_runs_on_the_new_schema() -> None:
    """A rollout runs the new release's migration while the old pods still serve (their /readyz
    accepts a schema ahead of them): an upgrade() may add tables, columns, indexes and
    constraints, never drop, rename or retype what the previous release reads. Removing is a
    later release's migration, once no running release reads it (docs/development.md)."""
    import ast
    from pathlib import Path

    import salescoach_core.migrations

    versions = Path(salescoach_core.migrations.__file__).parent / "versions"
    found = []
    for path in sorted(versions.glob("*.py")):
        tree = ast.parse(path.read_text())
        revision = next(
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            and "revision"
            in [getattr(t, "id", None) for t in getattr(node, "targets", [getattr(node, "target", None)])]
            and isinstance(node.value, ast.Constant)
        )
        if revision in BEFORE_THE_ADD_ONLY_RULE:
            continue
        upgrade_fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
        for node in ast.walk(upgrade_fn):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if call and node.func.attr.startswith(REMOVING_OPERATIONS):  # type: ignore[attr-defined]
                found.append(f"{path.name}: {ast.unparse(node)[:100]}")
            sql = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if sql and any(word in node.value.upper() for word in REMOVING_SQL):  # type: ignore[attr-defined]
                found.append(f"{path.name}: SQL {node.value[:100]!r}")
    assert found == [], "upgrade() removes or changes what the previous release reads:\n" + "\n".join(found)
