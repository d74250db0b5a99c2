"""sync_state caches each object's describe (field names and types) with its time

Revision ID: 37efcaa1dbff
Revises: 5f1d2c3b4a69
Create Date: 2026-11-23 16:12:07.190600
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "37efcaa1dbff"
down_revision: str | None = "5f1d2c3b4a69"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sync_state", sa.Column("described_fields", postgresql.JSONB(), nullable=True))
    op.add_column("sync_state", sa.Column("described_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("sync_state", "described_at")
    op.drop_column("sync_state", "described_fields")
