"""covering indexes for scorecards

The scorecard's per-rep indexes on sf_opportunity and sf_task gain INCLUDE columns so its
queries run as index-only scans: without them every matching row costs a heap visit, and that
cost grew with the org (docs/database.md; tests/bench/test_scorecard_bench.py). Alembic's
autogenerate does not compare INCLUDE, so this migration is written by hand.

Revision ID: a74a15ab4525
Revises: 44c3a88234ad
Create Date: 2026-11-23 12:49:52.484605
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a74a15ab4525"
down_revision: str | None = "44c3a88234ad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("sf_opportunity", ("owner_id", "created_date"), ("amount",)),
    ("sf_opportunity", ("owner_id", "close_date"), ("is_closed", "is_won", "amount", "created_date")),
    ("sf_task", ("owner_id", "completed_date_time"), ("is_closed", "task_subtype", "type")),
    ("sf_task", ("owner_id", "activity_date"), ("is_closed", "completed_date_time", "task_subtype", "type")),
)


def _recreate(*, covering: bool) -> None:
    for table, columns, include in INDEXES:
        name = f"ix_{table}_{'_'.join(columns)}"
        op.drop_index(name, table_name=table)
        op.create_index(
            name,
            table,
            list(columns),
            unique=False,
            postgresql_where=sa.text("NOT is_deleted"),
            postgresql_include=list(include) if covering else [],
        )


def upgrade() -> None:
    _recreate(covering=True)


def downgrade() -> None:
    _recreate(covering=False)
