"""revision of coaching goals, sessions and action items: the version an ETag names and an
If-Match write is checked against

Revision ID: 5e7a1c9b3f20
Revises: e7c2a4f19b60
Create Date: 2026-12-02 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7a1c9b3f20"
down_revision: str | None = "e7c2a4f19b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("coaching_goal", "coaching_session", "action_item")


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    for table in TABLES:
        op.add_column(table, sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "revision")
