"""sync API budget: getDeleted and change-probe checkpoints per object, API calls per day

Revision ID: c3e1b7a9d254
Revises: 37efcaa1dbff
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e1b7a9d254"
down_revision: str | None = "37efcaa1dbff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sync_state", sa.Column("deleted_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sync_state", sa.Column("window_read_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sync_api_usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=True),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("projected_calls", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_sync_api_usage")),
    )


def downgrade() -> None:
    op.drop_table("sync_api_usage")
    op.drop_column("sync_state", "window_read_at")
    op.drop_column("sync_state", "deleted_checked_at")
