"""reps sorted by name: an index on sf_user (name, id) for keyset pages of `GET /v1/reps?sort=name`

Revision ID: 8a4e2f9c1d37
Revises: 62d64362e606
Create Date: 2026-12-02 07:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8a4e2f9c1d37"
down_revision: str | None = "62d64362e606"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_sf_user_name_id"), "sf_user", ["name", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sf_user_name_id"), table_name="sf_user")
