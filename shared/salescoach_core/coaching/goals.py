"""Coaching goals (docs/domain.md, "Coaching goals"): creation under the per-period limit, edits,
status changes with their history, and the close at period end; `goal_progress` measures them.

Activity goals count calls, emails, meetings or opportunity starts, per week or per period;
outcome goals track dollars in starts, win rate, sales cycle days or the conversion of one open
stage (`stage_conversion` with its `stage`, as analytics computes it) over the period; skill goals
name a skill and are rated by the coach.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import structlog
from sqlalchemy import text
from sqlmodel import Session, col, select

from salescoach_core import reps
from salescoach_core.analytics.stages import stage_catalog
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.errors import (
    GoalLimitReachedError,
    GoalNotFoundError,
    GoalTransitionError,
    InvalidGoalError,
    TargetWorseThanBaselineError,
)
from salescoach_core.coaching.goal_progress import (
    LOWER_IS_BETTER,
    STAGE_CONVERSION,
    due_goals_measured,
    measure_new_goal,
    period_outcome,
    worse_than_baseline,
)
from salescoach_core.coaching.outbox import record_change
from salescoach_core.integrations.events import emit
from salescoach_core.integrations.payloads import goal_data
from salescoach_core.keyset import Keyset
from salescoach_core.models import CoachingGoal, GoalStatusChange, SfUser
from salescoach_core.numbers import json_number
from salescoach_core.periods import Period
from salescoach_core.revisions import Precondition, claim_revision

log = structlog.get_logger(__name__)

GoalKind = Literal["activity", "outcome", "skill"]
GoalStatus = Literal["active", "achieved", "missed", "abandoned"]
Cadence = Literal["per_week", "per_period"]

ACTIVITY_METRICS = ("calls", "emails", "meetings", "opportunity_starts")
OUTCOME_METRICS = ("dollars_in_starts", "win_rate", STAGE_CONVERSION, "sales_cycle_days")
CLOSED_STATUSES = frozenset({"achieved", "missed", "abandoned"})
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class GoalSpec:
    """What a coach asks for; validated by `create_goal`."""

    kind: GoalKind
    period: Period
    measurement_plan: str
    metric: str | None = None
    cadence: Cadence | None = None
    target: Decimal | None = None
    skill: str | None = None
    coach_rating: int | None = None
    stage: str | None = None
    """Stage-conversion goals: the open stage (its API name) whose conversion is tracked."""
    allow_target_worse_than_baseline: bool = False
    """The coach means it (a rep back from leave, a territory cut): no 422 for a step back."""


def _validate_stage(session: Session, spec: GoalSpec) -> None:
    """A stage-conversion goal names one of the synced open stages."""
    if spec.metric != STAGE_CONVERSION:
        return
    open_stages = stage_catalog(session).open_stages
    if spec.stage not in open_stages:
        allowed = ", ".join(open_stages) if open_stages else "none synced yet"
        given = f"`{spec.stage}` is not an open stage" if spec.stage else "It needs a `stage`"
        raise InvalidGoalError(
            f"A stage_conversion goal tracks one open stage. {given}; the open stages are: {allowed}."
        )


def _validate(spec: GoalSpec) -> None:
    if not spec.measurement_plan.strip():
        raise InvalidGoalError("Every goal needs a `measurement_plan`: how progress will be measured.")
    if spec.kind == "skill":
        if not spec.skill:
            raise InvalidGoalError("A skill goal names its `skill` (e.g. 'discovery questioning').")
        if (
            spec.metric is not None
            or spec.target is not None
            or spec.cadence is not None
            or spec.stage is not None
        ):
            raise InvalidGoalError(
                "A skill goal is rated by the coach: give no `metric`, `target`, `cadence` or `stage`."
            )
        return
    allowed = ACTIVITY_METRICS if spec.kind == "activity" else OUTCOME_METRICS
    if spec.metric not in allowed:
        raise InvalidGoalError(f"An {spec.kind} goal's `metric` is one of {', '.join(allowed)}.")
    if spec.target is None:
        raise InvalidGoalError(f"An {spec.kind} goal needs a `target` for {spec.metric}.")
    if spec.kind == "outcome" and spec.cadence not in (None, "per_period"):
        raise InvalidGoalError("Outcome goals are measured over the whole period: leave `cadence` out.")
    if spec.coach_rating is not None:
        raise InvalidGoalError("`coach_rating` applies to skill goals only.")
    if spec.skill is not None:
        raise InvalidGoalError("`skill` applies to skill goals only.")
    if spec.metric != STAGE_CONVERSION and spec.stage is not None:
        raise InvalidGoalError("`stage` applies to stage_conversion goals only.")


def _check_target(goal: CoachingGoal, *, allowed: bool) -> None:
    """Refuse a target that is a step back from the baseline unless the client says it means it:
    a coaching goal is about moving up, and a typo (2 for 20) would pass as achieved."""
    if allowed or not worse_than_baseline(metric=goal.metric, target=goal.target, baseline=goal.baseline):
        return
    assert goal.target is not None
    assert goal.baseline is not None
    direction = "above" if goal.metric in LOWER_IS_BETTER else "below"
    better = "lower" if goal.metric in LOWER_IS_BETTER else "higher"
    raise TargetWorseThanBaselineError(
        f"`target` {goal.target.normalize():f} is {direction} the baseline {goal.baseline.normalize():f} "
        f"({goal.metric} over the previous period; {better} is better): the goal would ask for less "
        "than the rep already does. Set a target that improves on the baseline, or send "
        "`allow_target_worse_than_baseline: true` if that is intended.",
        field="target",
        baseline=json_number(goal.baseline),
    )


def _lock_rep_goals(session: Session, rep_id: str) -> None:
    # Serialises goal creation per rep, so two concurrent requests cannot both pass the limit.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"goals:{rep_id}"})


def active_overlapping(session: Session, *, rep_id: str, period: Period) -> list[CoachingGoal]:
    return list(
        session.exec(
            select(CoachingGoal)
            .where(
                col(CoachingGoal.rep_id) == rep_id,
                col(CoachingGoal.status) == "active",
                col(CoachingGoal.period_start) < period.end,
                col(CoachingGoal.period_end) > period.start,
            )
            .order_by(col(CoachingGoal.created_at))
        )
    )


def describe(goal: CoachingGoal) -> str:
    """A goal in a few words, for errors and Task subjects."""
    if goal.kind == "skill":
        return f"skill: {goal.skill}"
    cadence = " per week" if goal.cadence == "per_week" else ""
    stage = f" at {goal.stage}" if goal.stage else ""
    target = f"{goal.target.normalize():f}" if goal.target is not None else "?"
    return f"{goal.kind}: {goal.metric}{stage} {target}{cadence}"


def create_goal(
    session: Session,
    *,
    rep: SfUser,
    coach_id: str | None,
    spec: GoalSpec,
    actor: str,
    now: datetime,
    config: CoachingConfig,
) -> CoachingGoal:
    """A new active goal with its baseline; refused with 409 past the per-period limit."""
    coach_id = reps.coach_of(session, rep_id=rep.id, coach_id=coach_id)
    _validate(spec)
    _validate_stage(session, spec)
    _lock_rep_goals(session, rep.id)
    active = active_overlapping(session, rep_id=rep.id, period=spec.period)
    if len(active) >= config.goal_limit:
        names = "; ".join(f"{g.id} ({describe(g)}, {g.period_label})" for g in active)
        raise GoalLimitReachedError(
            f"{rep.name or rep.id} already has {len(active)} active goals in periods overlapping "
            f"{spec.period.label} (the limit is {config.goal_limit}): {names}. Close or abandon one first.",
            active_goals=[
                {"id": str(g.id), "kind": g.kind, "summary": describe(g), "period": g.period_label}
                for g in active
            ],
        )
    goal_id = uuid.uuid4()
    goal = CoachingGoal(
        id=goal_id,
        rep_id=rep.id,
        coach_id=coach_id,
        period_label=spec.period.label,
        period_start=spec.period.start,
        period_end=spec.period.end,
        kind=spec.kind,
        metric=spec.metric,
        cadence=(spec.cadence or "per_period") if spec.kind == "activity" else None,
        skill=spec.skill,
        stage=spec.stage,
        measurement_plan=spec.measurement_plan,
        target=spec.target,
        coach_rating=spec.coach_rating,
        status="active",
        created_at=now,
        updated_at=now,
        external_id=f"goal-{goal_id}",
        writeback_status="not_mirrored",
    )
    measure_new_goal(session, goal=goal, rep=rep, now=now, config=config)
    _check_target(goal, allowed=spec.allow_target_worse_than_baseline)
    session.add(goal)
    session.flush()
    _history(session, goal, None, "active", actor=actor, now=now, reason="created")
    record_change(session, goal, now=now, created=True)
    emit(session, "goal.created", goal_data(goal), now=now)
    log.info("goal_created", goal_id=str(goal.id), rep_id=rep.id, kind=goal.kind, period=goal.period_label)
    return goal


def get_goal(session: Session, goal_id: uuid.UUID) -> CoachingGoal:
    goal = session.get(CoachingGoal, goal_id)
    if goal is None:
        raise GoalNotFoundError.of(goal_id)
    return goal


def list_goals(
    session: Session, *, rep_id: str, status: str | None, keyset: Keyset
) -> Sequence[CoachingGoal]:
    """One page of the rep's goals (the full goal history of the rep), in `keyset`'s order."""
    query = select(CoachingGoal).where(col(CoachingGoal.rep_id) == rep_id)
    if status is not None:
        query = query.where(col(CoachingGoal.status) == status)
    return keyset.fetch(session, query)


def history(session: Session, goal: CoachingGoal) -> Sequence[GoalStatusChange]:
    return session.exec(
        select(GoalStatusChange)
        .where(col(GoalStatusChange.goal_id) == goal.id)
        .order_by(col(GoalStatusChange.changed_at), col(GoalStatusChange.id))
    ).all()


def update_goal(
    session: Session,
    *,
    goal: CoachingGoal,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
    precondition: Precondition | None = None,
) -> CoachingGoal:
    """Change the plan, target, rating or status. Closed goals are history: refused with 409;
    a goal no longer at a revision `precondition` names, with 412.

    A coach may abandon any active goal and close a skill goal as achieved or missed; activity
    and outcome goals are closed from the data at period end, never by hand.
    """
    claim_revision(session, goal, precondition)
    if goal.status != "active":
        raise GoalTransitionError(f"Goal {goal.id} is {goal.status}; a closed goal cannot be changed.")
    mirrored_change = False
    if "measurement_plan" in changes:
        plan = changes["measurement_plan"]
        if not plan or not str(plan).strip():
            raise InvalidGoalError("`measurement_plan` cannot be empty.")
        goal.measurement_plan = str(plan)
    if "target" in changes:
        if goal.kind == "skill":
            raise InvalidGoalError("A skill goal has no `target`; rate it with `coach_rating`.")
        if changes["target"] is None:
            raise InvalidGoalError("`target` cannot be removed from an activity or outcome goal.")
        goal.target = Decimal(changes["target"])
        _check_target(goal, allowed=bool(changes.get("allow_target_worse_than_baseline")))
        mirrored_change = True
    if "coach_rating" in changes:
        if goal.kind != "skill":
            raise InvalidGoalError("`coach_rating` applies to skill goals only.")
        goal.coach_rating = changes["coach_rating"]
    status = changes.get("status")
    if status is not None and status != goal.status:
        if status == "abandoned" or (goal.kind == "skill" and status in ("achieved", "missed")):
            set_status(session, goal, status, actor=actor, now=now, reason=changes.get("reason"))
            mirrored_change = True
        else:
            raise GoalTransitionError(
                f"A {goal.kind} goal can be set to `abandoned` here"
                + (
                    " or closed as `achieved` / `missed`."
                    if goal.kind == "skill"
                    else "; it closes as achieved or missed from the data at the end of its period."
                )
            )
    goal.updated_at = now
    session.add(goal)
    if mirrored_change:
        record_change(session, goal, now=now, created=False)
    session.flush()
    return goal


def set_status(
    session: Session,
    goal: CoachingGoal,
    status: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    previous = goal.status
    goal.status = status
    goal.updated_at = now
    if status in CLOSED_STATUSES:
        goal.closed_at = now
    session.add(goal)
    _history(session, goal, previous, status, actor=actor, now=now, reason=reason)
    emit(session, "goal.status_changed", goal_data(goal, previous_status=previous), now=now)
    log.info("goal_status_changed", goal_id=str(goal.id), from_status=previous, to_status=status, actor=actor)


def _history(
    session: Session,
    goal: CoachingGoal,
    previous: str | None,
    status: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None,
) -> None:
    session.add(
        GoalStatusChange(
            goal_id=goal.id,
            from_status=previous,
            to_status=status,
            changed_at=now,
            changed_by=actor,
            reason=reason,
            progress=goal.progress,
        )
    )
    session.flush()


def close_due_goals(session: Session, *, now: datetime, config: CoachingConfig) -> list[CoachingGoal]:
    """Close every active activity and outcome goal whose period has ended as achieved or missed,
    from its progress over the whole period. Safe to run from several workers (SKIP LOCKED)."""
    goals = due_goals_measured(session, now=now, config=config)
    for goal in goals:
        outcome, reason = period_outcome(goal)
        goal.revision += 1  # read under the lock due_goals_measured took
        set_status(session, goal, outcome, actor=SYSTEM_ACTOR, now=now, reason=reason)
        record_change(session, goal, now=now, created=False)
    session.flush()
    if goals:
        log.info("goals_closed", count=len(goals))
    return goals
