"""Goals on the wire: GoalCreate, GoalUpdate (all optional), GoalPublic, GoalStatusChangePublic."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from salescoach_api.types import Day, RequestModel, SalesforceId
from salescoach_core.models import ActionItem, CoachingGoal, GoalStatusChange
from salescoach_core.numbers import json_number

GoalKind = Literal["activity", "outcome", "skill"]
GoalStatus = Literal["active", "achieved", "missed", "abandoned"]
GoalMetric = Literal["calls", "emails", "meetings", "opportunity_starts", "dollars_in_starts", "win_rate",
                     "stage_conversion", "sales_cycle_days"]  # fmt: skip
WritebackState = Literal["pending", "sent", "failed", "not_mirrored"]
Target = Field(default=None, ge=0, lt=Decimal("1e13"), decimal_places=4, examples=[20])
AllowWorse = Field(
    default=False,
    description="Accept a `target` below the baseline (above it for sales_cycle_days, where lower "
    "is better); without it such a target answers 422 `target_worse_than_baseline`.",
)


class GoalCreate(RequestModel):
    kind: GoalKind
    period: str | None = Field(
        default=None, max_length=32, description="A month (`2026-10`) or quarter (`2026-Q4`)."
    )
    period_from: Day | None = Field(default=None, description="Or a range: first day, with `period_to`.")
    period_to: Day | None = Field(default=None, description="Day after the last, with `period_from`.")
    measurement_plan: str = Field(min_length=1, max_length=4000)
    metric: GoalMetric | None = Field(
        default=None,
        description="activity: calls, emails, meetings, opportunity_starts; outcome: "
        "dollars_in_starts, win_rate, stage_conversion (with `stage`), sales_cycle_days (lower is better).",
    )
    stage: str | None = Field(
        default=None,
        max_length=255,
        description="stage_conversion goals: the open stage (API name) whose conversion share "
        "(converted / left, 0-1) is tracked.",
    )
    cadence: Literal["per_week", "per_period"] | None = Field(
        default=None, description="Activity goals: count per week or over the period (default)."
    )
    target: Decimal | None = Target
    allow_target_worse_than_baseline: bool = AllowWorse
    skill: str | None = Field(default=None, max_length=200, description="Skill goals: the skill worked on.")
    coach_rating: int | None = Field(default=None, ge=1, le=5, description="Skill goals: 1-5.")
    coach_id: SalesforceId | None = Field(
        default=None,
        description="The coach's User Id: an active user above the rep in the manager chain; "
        "default: the caller's own Salesforce user; required (422 `coach_id_required`) when "
        "the credential acts for none, as an admin or integration API key may.",
    )


class GoalUpdate(RequestModel):
    measurement_plan: str | None = Field(default=None, min_length=1, max_length=4000)
    target: Decimal | None = Target
    allow_target_worse_than_baseline: bool = AllowWorse
    coach_rating: int | None = Field(default=None, ge=1, le=5)
    status: GoalStatus | None = Field(
        default=None, description="`abandoned`; skill goals also `achieved` or `missed`."
    )
    reason: str | None = Field(default=None, max_length=2000, description="Kept in the status history.")

    @model_validator(mode="after")
    def _something(self) -> GoalUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class WritebackPublic(BaseModel):
    """The item's Salesforce Task: state of the last write-back and any permanent error."""

    status: WritebackState
    sf_task_id: str | None
    version: int
    sent_version: int | None
    error_code: str | None
    error: str | None
    written_back_at: datetime | None


class GoalPublic(BaseModel):
    id: uuid.UUID
    rep_id: str
    coach_id: str | None
    kind: GoalKind
    period: str
    period_from: date
    period_to: date
    metric: str | None
    cadence: str | None
    skill: str | None
    stage: str | None = Field(description="stage_conversion goals: the open stage tracked.")
    measurement_plan: str
    baseline: float | None = Field(description="The metric over the previous period, at creation.")
    target: float | None
    progress: float | None = Field(
        description="The metric over the goal's period so far (per week when "
        "the cadence is per_week), refreshed after every sync."
    )
    progress_as_of: datetime | None
    coach_rating: int | None
    status: GoalStatus
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    writeback: WritebackPublic

    @classmethod
    def of(cls, goal: CoachingGoal) -> GoalPublic:
        return cls(
            id=goal.id,
            rep_id=goal.rep_id,
            coach_id=goal.coach_id,
            kind=goal.kind,
            period=goal.period_label,
            period_from=goal.period_start,
            period_to=goal.period_end,
            metric=goal.metric,
            cadence=goal.cadence,
            skill=goal.skill,
            stage=goal.stage,
            measurement_plan=goal.measurement_plan,
            baseline=json_number(goal.baseline),
            target=json_number(goal.target),
            progress=json_number(goal.progress),
            progress_as_of=goal.progress_as_of,
            coach_rating=goal.coach_rating,
            status=goal.status,
            created_at=goal.created_at,
            updated_at=goal.updated_at,
            closed_at=goal.closed_at,
            writeback=writeback_of(goal),
        )


def writeback_of(item: CoachingGoal | ActionItem) -> WritebackPublic:
    return WritebackPublic(
        status=item.writeback_status,
        sf_task_id=item.sf_task_id,
        version=item.version,
        sent_version=item.sent_version,
        error_code=item.writeback_error_code,
        error=item.writeback_error,
        written_back_at=item.written_back_at,
    )


class GoalStatusChangePublic(BaseModel):
    from_status: GoalStatus | None
    to_status: GoalStatus
    changed_at: datetime
    changed_by: str
    reason: str | None
    progress: float | None

    @classmethod
    def of(cls, change: GoalStatusChange) -> GoalStatusChangePublic:
        return cls(
            from_status=change.from_status,
            to_status=change.to_status,
            changed_at=change.changed_at,
            changed_by=change.changed_by,
            reason=change.reason,
            progress=json_number(change.progress),
        )


class GoalHistory(BaseModel):
    goal_id: uuid.UUID
    items: list[GoalStatusChangePublic]
