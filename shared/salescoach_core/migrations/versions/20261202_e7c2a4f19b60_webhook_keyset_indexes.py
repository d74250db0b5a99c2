"""webhook lists in keyset order: indexes on webhook_endpoint (created_at, id) and
webhook_delivery (endpoint_id, created_at, id) for the pages of `GET /v1/webhooks` and
`GET /v1/webhooks/{webhook_id}/deliveries`

Revision ID: e7c2a4f19b60
Revises: b5d0c7e3a912
Create Date: 2026-12-02 11:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e7c2a4f19b60"
down_revision: str | None = "b5d0c7e3a912"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_webhook_endpoint_created_at_id"), "webhook_endpoint", ["created_at", "id"], unique=False
    )
    op.create_index(
        op.f("ix_webhook_delivery_endpoint_id_created_at_id"),
        "webhook_delivery",
        ["endpoint_id", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_delivery_endpoint_id_created_at_id"), table_name="webhook_delivery")
    op.drop_index(op.f("ix_webhook_endpoint_created_at_id"), table_name="webhook_endpoint")
