"""goal stage for stage-conversion goals: the open stage a stage_conversion goal tracks

Revision ID: ab274ecce433
Revises: 49cbe2982efb
Create Date: 2026-11-23 13:27:56.789576
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ab274ecce433"
down_revision: str | None = "49cbe2982efb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("coaching_goal", sa.Column("stage", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("coaching_goal", "stage")
