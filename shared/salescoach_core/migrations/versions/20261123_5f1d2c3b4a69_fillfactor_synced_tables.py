"""fillfactor 90 on the large synced tables, so sync merges update rows in place

Revision ID: 5f1d2c3b4a69
Revises: ab274ecce433
Create Date: 2026-11-23 14:10:00

Alembic's autogenerate does not compare storage parameters, so this is written by hand; the
models declare the same (`SYNCED_TABLE_STORAGE` in models/salesforce.py). Only pages written
from now on keep the free space; an operator may `VACUUM FULL` a loaded table to rewrite it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5f1d2c3b4a69"
down_revision: str | None = "ab274ecce433"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("sf_opportunity", "sf_opportunity_history", "sf_task", "sf_event")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 90)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
