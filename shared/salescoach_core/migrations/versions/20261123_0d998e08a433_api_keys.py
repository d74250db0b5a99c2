"""api keys: hashed API keys with a visible prefix, a role and an optional Salesforce User Id

Revision ID: 0d998e08a433
Revises: b029dbf2b68c
Create Date: 2026-11-23 12:18:00.792714
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0d998e08a433"
down_revision: str | None = "b029dbf2b68c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("sf_user_id", sa.String(length=18), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'manager', 'rep', 'integration')", name=op.f("ck_api_key_role_is_known")
        ),
        sa.CheckConstraint(
            "role NOT IN ('manager', 'rep') OR sf_user_id IS NOT NULL",
            name=op.f("ck_api_key_scoped_role_has_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )


def downgrade() -> None:
    op.drop_table("api_key")
