"""bi.reps lists the reps GET /v1/reps lists (it listed every synced user); bi.people lists every
user with is_rep and is_manager

Revision ID: b5d0c7e3a912
Revises: 8a4e2f9c1d37
Create Date: 2026-12-02 07:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

from salescoach_core.integrations import bi

revision: str = "b5d0c7e3a912"
down_revision: str | None = "8a4e2f9c1d37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVERY_USER = "SELECT id AS rep_id, name, email, manager_id, is_active, title FROM public.sf_user"


def upgrade() -> None:
    bi.create_views(op.get_bind())


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS bi.people")
    op.execute(f"CREATE OR REPLACE VIEW bi.reps AS {_EVERY_USER}")
    op.execute(
        "COMMENT ON VIEW bi.reps IS 'Salesforce users (reps, managers): id, name, email, manager, active flag.'"
    )
