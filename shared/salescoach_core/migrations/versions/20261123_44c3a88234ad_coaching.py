"""Coaching goals with their status history, sessions, action items, and the write-back outbox.

Revision ID: 44c3a88234ad
Revises: 0d998e08a433
Create Date: 2026-11-23 12:31:12.829335
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "44c3a88234ad"
down_revision: str | None = "0d998e08a433"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coaching_goal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rep_id", sa.String(length=18), nullable=False),
        sa.Column("coach_id", sa.String(length=18), nullable=True),
        sa.Column("period_label", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=True),
        sa.Column("cadence", sa.String(length=16), nullable=True),
        sa.Column("skill", sa.String(length=200), nullable=True),
        sa.Column("measurement_plan", sa.Text(), nullable=False),
        sa.Column("baseline", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("target", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("progress", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("progress_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("coach_rating", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sf_task_id", sa.String(length=18), nullable=True),
        sa.Column("sent_version", sa.Integer(), nullable=True),
        sa.Column("sent_status", sa.String(length=64), nullable=True),
        sa.Column("writeback_status", sa.String(length=16), nullable=False),
        sa.Column("writeback_error_code", sa.String(length=64), nullable=True),
        sa.Column("writeback_error", sa.Text(), nullable=True),
        sa.Column("written_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("coach_rating BETWEEN 1 AND 5", name=op.f("ck_coaching_goal_coach_rating_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaching_goal")),
        sa.UniqueConstraint("external_id", name=op.f("uq_coaching_goal_external_id")),
    )
    op.create_index(
        op.f("ix_coaching_goal_rep_id_period_start_period_end"),
        "coaching_goal",
        ["rep_id", "period_start", "period_end"],
        unique=False,
    )
    op.create_index(
        op.f("ix_coaching_goal_status_period_end"), "coaching_goal", ["status", "period_end"], unique=False
    )
    op.create_table(
        "coaching_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rep_id", sa.String(length=18), nullable=False),
        sa.Column("coach_id", sa.String(length=18), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("objectives", sa.Text(), nullable=True),
        sa.Column("rep_perspective", sa.Text(), nullable=True),
        sa.Column("obstacles", sa.Text(), nullable=True),
        sa.Column("way_forward", sa.Text(), nullable=True),
        sa.Column("focus_behavior", sa.Text(), nullable=True),
        sa.Column("what_if_scenarios", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("scorecard_snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("standard_metric", sa.String(length=64), nullable=True),
        sa.Column("standard_threshold", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("consequence", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("follow_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "duration_minutes BETWEEN 15 AND 60", name=op.f("ck_coaching_session_duration_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaching_session")),
    )
    op.create_index(
        op.f("ix_coaching_session_rep_id_scheduled_at"),
        "coaching_session",
        ["rep_id", "scheduled_at"],
        unique=False,
    )
    op.create_table(
        "writeback_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_writeback_outbox")),
        sa.UniqueConstraint("external_id", name=op.f("uq_writeback_outbox_external_id")),
    )
    op.create_index(
        op.f("ix_writeback_outbox_available_at"), "writeback_outbox", ["available_at"], unique=False
    )
    op.create_table(
        "action_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("rep_id", sa.String(length=18), nullable=False),
        sa.Column("owner", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("opportunity_id", sa.String(length=18), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("completed_source", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sf_task_id", sa.String(length=18), nullable=True),
        sa.Column("sent_version", sa.Integer(), nullable=True),
        sa.Column("sent_status", sa.String(length=64), nullable=True),
        sa.Column("writeback_status", sa.String(length=16), nullable=False),
        sa.Column("writeback_error_code", sa.String(length=64), nullable=True),
        sa.Column("writeback_error", sa.Text(), nullable=True),
        sa.Column("written_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["coaching_session.id"],
            name=op.f("fk_action_item_session_id_coaching_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_item")),
        sa.UniqueConstraint("external_id", name=op.f("uq_action_item_external_id")),
    )
    op.create_index(
        op.f("ix_action_item_rep_id_status_due_date"),
        "action_item",
        ["rep_id", "status", "due_date"],
        unique=False,
    )
    op.create_index(op.f("ix_action_item_session_id"), "action_item", ["session_id"], unique=False)
    op.create_index(op.f("ix_action_item_sf_task_id"), "action_item", ["sf_task_id"], unique=False)
    op.create_table(
        "coaching_goal_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("progress", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["coaching_goal.id"],
            name=op.f("fk_coaching_goal_status_change_goal_id_coaching_goal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaching_goal_status_change")),
    )
    op.create_index(
        op.f("ix_coaching_goal_status_change_goal_id_changed_at"),
        "coaching_goal_status_change",
        ["goal_id", "changed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_coaching_goal_status_change_goal_id_changed_at"), table_name="coaching_goal_status_change"
    )
    op.drop_table("coaching_goal_status_change")
    op.drop_index(op.f("ix_action_item_sf_task_id"), table_name="action_item")
    op.drop_index(op.f("ix_action_item_session_id"), table_name="action_item")
    op.drop_index(op.f("ix_action_item_rep_id_status_due_date"), table_name="action_item")
    op.drop_table("action_item")
    op.drop_index(op.f("ix_writeback_outbox_available_at"), table_name="writeback_outbox")
    op.drop_table("writeback_outbox")
    op.drop_index(op.f("ix_coaching_session_rep_id_scheduled_at"), table_name="coaching_session")
    op.drop_table("coaching_session")
    op.drop_index(op.f("ix_coaching_goal_status_period_end"), table_name="coaching_goal")
    op.drop_index(op.f("ix_coaching_goal_rep_id_period_start_period_end"), table_name="coaching_goal")
    op.drop_table("coaching_goal")
