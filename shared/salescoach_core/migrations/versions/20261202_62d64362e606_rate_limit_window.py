"""rate limit windows: requests per principal and minute, counted by every API process together

Revision ID: 62d64362e606
Revises: c3e1b7a9d254
Create Date: 2026-12-02 04:23:01.724486
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "62d64362e606"
down_revision: str | None = "c3e1b7a9d254"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_window",
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("principal", "window_start", name=op.f("pk_rate_limit_window")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("rate_limit_window")
