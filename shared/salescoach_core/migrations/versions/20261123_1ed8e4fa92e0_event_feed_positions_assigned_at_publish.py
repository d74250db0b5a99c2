"""Event feed positions, given when events are published, instead of (txid, sequence) cursors

The transaction-id horizon stalled the feed while any write transaction on the server was
open (a long sync load, or another database's); positions given at publish, in the order
commits became visible, need no horizon. Existing events are published in their old order.

Revision ID: 1ed8e4fa92e0
Revises: dbf3c546cd5e
Create Date: 2026-11-23 13:06:59.486547
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1ed8e4fa92e0"
down_revision: str | None = "dbf3c546cd5e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("event", sa.Column("position", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE event SET position = ordered.n FROM "
        "(SELECT sequence, row_number() OVER (ORDER BY txid, sequence) AS n FROM event) AS ordered "
        "WHERE event.sequence = ordered.sequence"
    )
    op.drop_index(op.f("ix_event_txid_sequence"), table_name="event")
    op.create_unique_constraint(op.f("uq_event_position"), "event", ["position"])
    op.drop_column("event", "txid")


def downgrade() -> None:
    op.add_column(
        "event",
        sa.Column(
            "txid",
            sa.BIGINT(),
            server_default=sa.text("((pg_current_xact_id())::text)::bigint"),
            autoincrement=False,
            nullable=False,
        ),
    )
    op.drop_constraint(op.f("uq_event_position"), "event", type_="unique")
    op.create_index(op.f("ix_event_txid_sequence"), "event", ["txid", "sequence"], unique=False)
    op.drop_column("event", "position")
