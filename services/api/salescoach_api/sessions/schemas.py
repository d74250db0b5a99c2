"""Sessions, action items, the plan and the diagnosis on the wire."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from salescoach_api.goals.schemas import GoalPublic, WritebackPublic, writeback_of
from salescoach_api.scorecards.schemas import PeriodPublic
from salescoach_api.types import Day, Instant, JsonObject, NumericColumn, Rate, RequestModel, SalesforceId
from salescoach_core.coaching.diagnosis import Diagnosis
from salescoach_core.models import ActionItem, CoachingSession

Mode = Literal["developmental", "consequence"]
SessionStatus = Literal["scheduled", "held", "canceled", "no_show"]
ItemStatus = Literal["open", "completed", "canceled"]
Text = Field(default=None, max_length=10_000)


class SessionContent(RequestModel):
    """What a session records; every field optional (developmental or consequence per mode)."""

    objectives: str | None = Field(
        default=None, max_length=10_000, description="Step 1: establish objectives."
    )
    rep_perspective: str | None = Field(
        default=None, max_length=10_000, description="Step 2: the rep's view."
    )
    obstacles: str | None = Field(default=None, max_length=10_000, description="Step 3: obstacles to remove.")
    way_forward: str | None = Field(
        default=None, max_length=10_000, description="Steps 3-4: the way forward agreed, actions and close."
    )
    focus_behavior: str | None = Field(default=None, max_length=2000, description="The #1 focus behavior.")
    what_if_scenarios: list[JsonObject] | None = Field(
        default=None,
        max_length=50,
        description="What-if scenarios looked at (as the what-if API served them): at most 50, "
        "each a JSON object of at most 16 KiB.",
    )
    standard_metric: str | None = Field(default=None, max_length=64, description="Consequence: the metric.")
    standard_threshold: Annotated[Decimal, NumericColumn(18, 4)] | None = Field(
        default=None, description="Consequence: the threshold to reach."
    )
    deadline: Day | None = Field(default=None, description="Consequence: by when.")
    consequence: str | None = Field(
        default=None, max_length=4000, description="Consequence: what happens if not."
    )
    notes: str | None = Text
    follow_up_at: Instant | None = Field(
        default=None, description="The scheduled follow-up; holding the session needs one."
    )


class SessionCreate(SessionContent):
    mode: Mode = "developmental"
    scheduled_at: Instant
    duration_minutes: int = Field(default=30, ge=15, le=60)
    coach_id: SalesforceId | None = Field(
        default=None,
        description="An active user above the rep in the manager chain; default: the caller's own "
        "Salesforce user; required (422 `coach_id_required`) when the credential acts for none, as "
        "an admin or integration API key may.",
    )


class SessionUpdate(SessionContent):
    scheduled_at: Instant | None = None
    duration_minutes: int | None = Field(default=None, ge=15, le=60)
    coach_id: SalesforceId | None = Field(
        default=None,
        description="Another coach (an active user above the rep in the manager chain); a session "
        "always has one, so `null` is 422 `coach_id_required`.",
    )


class HoldRequest(SessionContent):
    snapshot_period: str | None = Field(
        default=None,
        max_length=32,
        description="Period of the frozen scorecard snapshot (developmental): `2026-10` or `2026-Q4`; "
        "default the month the session is held in.",
    )


class ActionItemCreate(RequestModel):
    owner: Literal["rep", "coach"] = "rep"
    description: str = Field(min_length=1, max_length=4000)
    due_date: Day | None = None
    opportunity_id: SalesforceId | None = Field(
        default=None, description="The rep's opportunity it concerns (Task WhatId)."
    )


class ActionItemUpdate(RequestModel):
    description: str | None = Field(default=None, min_length=1, max_length=4000)
    due_date: Day | None = None
    opportunity_id: SalesforceId | None = None
    status: ItemStatus | None = None
    completed_on: Day | None = Field(default=None, description="With status=completed; default today.")

    @model_validator(mode="after")
    def _something(self) -> ActionItemUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class ActionItemPublic(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    rep_id: str
    owner: Literal["rep", "coach"]
    description: str
    due_date: date | None
    opportunity_id: str | None
    status: ItemStatus
    completed_on: date | None
    completed_source: Literal["api", "salesforce"] | None
    created_at: datetime
    updated_at: datetime
    writeback: WritebackPublic

    @classmethod
    def of(cls, item: ActionItem) -> ActionItemPublic:
        return cls(
            id=item.id,
            session_id=item.session_id,
            rep_id=item.rep_id,
            owner=item.owner,
            description=item.description,
            due_date=item.due_date,
            opportunity_id=item.opportunity_id,
            status=item.status,
            completed_on=item.completed_on,
            completed_source=item.completed_source,
            created_at=item.created_at,
            updated_at=item.updated_at,
            writeback=writeback_of(item),
        )


class SessionPublic(BaseModel):
    id: uuid.UUID
    rep_id: str
    coach_id: str | None
    mode: Mode
    status: SessionStatus
    scheduled_at: datetime
    duration_minutes: int
    objectives: str | None
    rep_perspective: str | None
    obstacles: str | None
    way_forward: str | None
    focus_behavior: str | None
    what_if_scenarios: list[dict[str, Any]]
    scorecard_snapshot: dict[str, Any] | None = Field(
        description="Frozen when a developmental session is held."
    )
    standard_metric: str | None
    standard_threshold: float | None
    deadline: date | None
    consequence: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    notes: str | None
    follow_up_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    action_items: list[ActionItemPublic]

    @classmethod
    def of(cls, row: CoachingSession, items: list[ActionItem]) -> SessionPublic:
        return cls(
            id=row.id,
            rep_id=row.rep_id,
            coach_id=row.coach_id,
            mode=row.mode,
            status=row.status,
            scheduled_at=row.scheduled_at,
            duration_minutes=row.duration_minutes,
            objectives=row.objectives,
            rep_perspective=row.rep_perspective,
            obstacles=row.obstacles,
            way_forward=row.way_forward,
            focus_behavior=row.focus_behavior,
            what_if_scenarios=row.what_if_scenarios,
            scorecard_snapshot=row.scorecard_snapshot,
            standard_metric=row.standard_metric,
            standard_threshold=float(row.standard_threshold) if row.standard_threshold is not None else None,
            deadline=row.deadline,
            consequence=row.consequence,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            notes=row.notes,
            follow_up_at=row.follow_up_at,
            closed_at=row.closed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            action_items=[ActionItemPublic.of(i) for i in items],
        )


class PlanPublic(BaseModel):
    """The rep's plan: open items overdue, items due in the next `SALESCOACH_PLAN_DAYS` (30)
    days, open items without a due date, and the active goals they serve."""

    rep_id: str
    from_: date = Field(alias="from")
    to: date = Field(description="Exclusive.")
    overdue: list[ActionItemPublic]
    items: list[ActionItemPublic]
    undated: list[ActionItemPublic] = Field(
        description="Open items without a due date, oldest first: agreed, but not yet scheduled."
    )
    active_goals: list[GoalPublic]

    model_config = {"populate_by_name": True}


class DiagnosisPublic(BaseModel):
    rep_id: str
    period: PeriodPublic
    diagnosis: Literal["on_track", "skill", "will", "no_commitments_due", "too_early"] = Field(
        description="`will`: commitments missed; `skill`: commitments kept, results short of Core; "
        "`no_commitments_due`: results short of Core with no commitment due in the window, so "
        "skill and will cannot be told apart; `too_early`: a running period with fewer than "
        "`min_elapsed_working_days` working days behind it; `on_track`: none of these "
        '(docs/coaching.md, "Diagnosis").'
    )
    recommended_mode: Mode
    reason: str
    pace: Rate | None
    attainment: Rate | None
    segment: str | None
    core_threshold: Rate = Field(
        description="Pace at which Core begins: below it, results are short of goal."
    )
    willingness_to_change: Rate | None
    willingness_threshold: Rate
    commitments_due: int
    commitments_kept: int
    commitment_window_from: date
    commitment_window_to: date = Field(description="Exclusive.")
    missed_session_streak: int = Field(
        description="Consecutive held developmental sessions with missed commitments, most recent first."
    )
    consequence_after: int = Field(description="Streak from which consequence coaching is recommended.")
    elapsed_working_days: int = Field(
        description="Weekdays of the period that have fully passed, in the org's zone."
    )
    min_elapsed_working_days: int = Field(
        description="Working days a running period needs before its results are judged."
    )

    @classmethod
    def of(cls, d: Diagnosis, timezone: str) -> DiagnosisPublic:
        return cls(
            rep_id=d.rep_id,
            period=PeriodPublic.of(d.period, timezone),
            diagnosis=d.verdict,
            recommended_mode=d.recommended_mode,
            reason=d.reason,
            pace=d.pace,
            attainment=d.attainment,
            segment=d.segment,
            core_threshold=d.core_threshold,
            willingness_to_change=d.willingness_to_change,
            willingness_threshold=d.willingness_threshold,
            commitments_due=d.commitments_due,
            commitments_kept=d.commitments_kept,
            commitment_window_from=d.window_from,
            commitment_window_to=d.window_to,
            missed_session_streak=d.missed_session_streak,
            consequence_after=d.consequence_after,
            elapsed_working_days=d.elapsed_working_days,
            min_elapsed_working_days=d.min_elapsed_working_days,
        )
