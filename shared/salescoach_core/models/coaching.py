"""Coaching records (docs/domain.md, "Coaching goals", "Coaching sessions", "Write-back to Salesforce"):
goals and their status history, sessions, action items, and the outbox of Tasks to write to Salesforce.

Rows are ours, so each has a UUID surrogate key; reps and coaches are Salesforce User ids.
Goals and action items that are mirrored to Salesforce carry their write-back state: the
`external_id` written into the Task's external-id field, a `version` bumped on every mirrored
change, the Task Id and the version Salesforce last acknowledged, and a permanent error if any.

Each of the three records people edit also has a `revision`: 1 when created, one more on every
change of what it says (salescoach_core.revisions), its `ETag` in the API. It is not the
write-back `version`, which counts only the changes mirrored to Salesforce.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from salescoach_core.models.base import SF_ID_LENGTH, timestamp

EXTERNAL_ID_LENGTH = 64


def _rep_ref(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_type=String(SF_ID_LENGTH),
        nullable=nullable,
        index=index,
        max_length=SF_ID_LENGTH,
    )


def _text() -> Any:
    return Field(default=None, sa_type=Text)


def _revision() -> Any:
    return Field(default=1, sa_column=Column(Integer, nullable=False, server_default=text("1")))


def _jsonb(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSONB, nullable=False))


class CoachingGoal(SQLModel, table=True):
    __tablename__ = "coaching_goal"
    __table_args__ = (
        Index(None, "rep_id", "period_start", "period_end"),
        Index(None, "status", "period_end"),
        CheckConstraint("coach_rating BETWEEN 1 AND 5", name="coach_rating_range"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    rep_id: str = _rep_ref()
    coach_id: str | None = _rep_ref(nullable=True)
    period_label: str = Field(max_length=32)
    period_start: date
    period_end: date
    kind: str = Field(max_length=16)
    metric: str | None = Field(default=None, max_length=32)
    cadence: str | None = Field(default=None, max_length=16)
    skill: str | None = Field(default=None, max_length=200)
    stage: str | None = Field(default=None, max_length=255)
    """Stage-conversion goals: the open stage's API name (OpportunityStage.ApiName)."""
    measurement_plan: str = Field(sa_type=Text)
    baseline: Decimal | None = Field(default=None, sa_type=Numeric(18, 4))
    target: Decimal | None = Field(default=None, sa_type=Numeric(18, 4))
    progress: Decimal | None = Field(default=None, sa_type=Numeric(18, 4))
    progress_as_of: datetime | None = timestamp()
    coach_rating: int | None = None
    status: str = Field(max_length=16)
    created_at: datetime = timestamp(nullable=False)
    updated_at: datetime = timestamp(nullable=False)
    closed_at: datetime | None = timestamp()
    revision: int = _revision()
    # Write-back (activity goals only; others stay "not_mirrored").
    external_id: str = Field(sa_type=String(EXTERNAL_ID_LENGTH), unique=True, max_length=EXTERNAL_ID_LENGTH)
    version: int = 1
    sf_task_id: str | None = Field(default=None, sa_type=String(SF_ID_LENGTH), max_length=SF_ID_LENGTH)
    sent_version: int | None = None
    sent_status: str | None = Field(default=None, max_length=64)
    writeback_status: str = Field(max_length=16)
    writeback_error_code: str | None = Field(default=None, max_length=64)
    writeback_error: str | None = _text()
    written_back_at: datetime | None = timestamp()


class GoalStatusChange(SQLModel, table=True):
    """One status change of a goal, kept forever (the goal's history)."""

    __tablename__ = "coaching_goal_status_change"
    __table_args__ = (Index(None, "goal_id", "changed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    goal_id: uuid.UUID = Field(foreign_key="coaching_goal.id", ondelete="CASCADE")
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    changed_at: datetime = timestamp(nullable=False)
    changed_by: str = Field(max_length=200)
    reason: str | None = _text()
    progress: Decimal | None = Field(default=None, sa_type=Numeric(18, 4))


class CoachingSession(SQLModel, table=True):
    __tablename__ = "coaching_session"
    __table_args__ = (
        Index(None, "rep_id", "scheduled_at"),
        CheckConstraint("duration_minutes BETWEEN 15 AND 60", name="duration_range"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    rep_id: str = _rep_ref()
    coach_id: str | None = _rep_ref(nullable=True)
    mode: str = Field(max_length=16)
    status: str = Field(max_length=16)
    scheduled_at: datetime = timestamp(nullable=False)
    duration_minutes: int
    # Developmental: the four steps, the #1 focus behavior, what-ifs looked at, the snapshot.
    objectives: str | None = _text()
    rep_perspective: str | None = _text()
    obstacles: str | None = _text()
    way_forward: str | None = _text()
    focus_behavior: str | None = _text()
    what_if_scenarios: list[dict[str, Any]] = _jsonb(list)
    scorecard_snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # Consequence: the standard (metric and threshold), deadline, consequence, acknowledgment.
    standard_metric: str | None = Field(default=None, max_length=64)
    standard_threshold: Decimal | None = Field(default=None, sa_type=Numeric(18, 4))
    deadline: date | None = None
    consequence: str | None = _text()
    acknowledged_at: datetime | None = timestamp()
    acknowledged_by: str | None = Field(default=None, max_length=200)
    notes: str | None = _text()
    follow_up_at: datetime | None = timestamp()
    closed_at: datetime | None = timestamp()
    created_at: datetime = timestamp(nullable=False)
    updated_at: datetime = timestamp(nullable=False)
    revision: int = _revision()


class ActionItem(SQLModel, table=True):
    __tablename__ = "action_item"
    __table_args__ = (
        Index(None, "rep_id", "status", "due_date"),
        Index(None, "session_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="coaching_session.id", ondelete="CASCADE")
    rep_id: str = _rep_ref()
    owner: str = Field(max_length=8)
    description: str = Field(sa_type=Text)
    due_date: date | None = None
    opportunity_id: str | None = Field(default=None, sa_type=String(SF_ID_LENGTH), max_length=SF_ID_LENGTH)
    status: str = Field(max_length=16)
    completed_on: date | None = None
    completed_source: str | None = Field(default=None, max_length=16)
    created_at: datetime = timestamp(nullable=False)
    updated_at: datetime = timestamp(nullable=False, index=True)  # max() read by the scorecard cache
    revision: int = _revision()
    external_id: str = Field(sa_type=String(EXTERNAL_ID_LENGTH), unique=True, max_length=EXTERNAL_ID_LENGTH)
    version: int = 1
    sf_task_id: str | None = Field(
        default=None, sa_type=String(SF_ID_LENGTH), max_length=SF_ID_LENGTH, index=True
    )
    sent_version: int | None = None
    sent_status: str | None = Field(default=None, max_length=64)
    writeback_status: str = Field(max_length=16)
    writeback_error_code: str | None = Field(default=None, max_length=64)
    writeback_error: str | None = _text()
    written_back_at: datetime | None = timestamp()


class WritebackOutbox(SQLModel, table=True):
    """One row per item with a change not yet acknowledged by Salesforce.

    Written in the API's transaction; `version` is the item's version the row asks to send.
    A sender leases rows (`claimed_until`) after selecting them FOR UPDATE SKIP LOCKED.
    """

    __tablename__ = "writeback_outbox"
    __table_args__ = (Index(None, "available_at"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(sa_type=String(EXTERNAL_ID_LENGTH), unique=True, max_length=EXTERNAL_ID_LENGTH)
    item_kind: str = Field(max_length=16)
    item_id: uuid.UUID
    version: int
    attempts: int = 0
    available_at: datetime = timestamp(nullable=False)
    claimed_until: datetime | None = timestamp()
    last_error: str | None = _text()
    created_at: datetime = timestamp(nullable=False)
