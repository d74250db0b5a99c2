"""`/v1/reps/{rep_id}/goals`, `/v1/goals/{goal_id}` and its status history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request, status

from salescoach_api.auth.dependencies import CurrentPrincipal, RepScopeDep
from salescoach_api.auth.policy import Access, require_row_access, requires, v1_router
from salescoach_api.dependencies import DbSessionDep, NowDep, ReadSessionDep, SettingsDep
from salescoach_api.goals.dependencies import actor_of
from salescoach_api.goals.schemas import (
    GoalCreate,
    GoalHistory,
    GoalPublic,
    GoalStatus,
    GoalStatusChangePublic,
    GoalUpdate,
)
from salescoach_api.pagination import Page, SortedPagination, Sorting
from salescoach_api.versions import IfMatchDep, RecordTagDep, VersionedRoute
from salescoach_core import reps
from salescoach_core.coaching import goals
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.errors import GoalNotFoundError
from salescoach_core.models import CoachingGoal
from salescoach_core.periods import Period

router = v1_router(prefix="/v1", tags=["goals"], route_class=VersionedRoute)

GOAL_SORTING = Sorting(
    name="goals",
    id_column=CoachingGoal.id,
    fields={
        "created_at": CoachingGoal.created_at,
        "updated_at": CoachingGoal.updated_at,
        "period_from": CoachingGoal.period_start,
        "closed_at": CoachingGoal.closed_at,
    },
    default="created_at",
)


def visible_goal(
    request: Request, db_session: DbSessionDep, scope: RepScopeDep, goal_id: uuid.UUID
) -> CoachingGoal:
    """The goal, if the caller may see its rep (and coach them, on a write). A dependency, so the
    scope is checked before the body is validated: an out-of-scope id answers 404 whatever the
    body, exactly what a missing goal answers."""
    goal = goals.get_goal(db_session, goal_id)
    require_row_access(request, scope, goal.rep_id, missing=GoalNotFoundError.of(goal_id))
    return goal


VisibleGoal = Annotated[CoachingGoal, Depends(visible_goal)]


@router.post(
    "/reps/{rep_id}/goals",
    operation_id="createGoal",
    status_code=status.HTTP_201_CREATED,
    dependencies=[requires(Access.REP_WRITE, rep="rep_id")],
)
def create_goal(
    db_session: DbSessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    now: NowDep,
    tag: RecordTagDep,
    rep_id: str,
    body: GoalCreate,
) -> GoalPublic:
    """A coaching goal for the rep, with its baseline from the scorecard. At most
    `SALESCOACH_GOAL_LIMIT_PER_PERIOD` (2) active goals in overlapping periods: past it, 409
    `goal_limit_reached` names the active ones (`active_goals`)."""
    rep = reps.get_rep(db_session, rep_id)
    spec = goals.GoalSpec(
        kind=body.kind,
        period=Period.parse(body.period, body.period_from, body.period_to),
        measurement_plan=body.measurement_plan,
        metric=body.metric,
        cadence=body.cadence,
        target=body.target,
        skill=body.skill,
        coach_rating=body.coach_rating,
        stage=body.stage,
        allow_target_worse_than_baseline=body.allow_target_worse_than_baseline,
    )
    goal = goals.create_goal(
        db_session,
        rep=rep,
        coach_id=body.coach_id or principal.sf_user_id,
        spec=spec,
        actor=actor_of(principal),
        now=now,
        config=CoachingConfig.from_settings(settings),
    )
    return GoalPublic.of(tag(goal))


@router.get(
    "/reps/{rep_id}/goals", operation_id="listGoals", dependencies=[requires(Access.REP_READ, rep="rep_id")]
)
def list_goals(
    db_session: ReadSessionDep,
    rep_id: str,
    page: Annotated[SortedPagination, GOAL_SORTING.depends()],
    status: GoalStatus | None = None,
) -> Page[GoalPublic]:
    """Every goal of the rep (the rep's full goal history), optionally by status; oldest first
    unless `sort` says otherwise."""
    rep = reps.get_user(db_session, rep_id)
    rows = goals.list_goals(db_session, rep_id=rep.id, status=status, keyset=page.keyset())
    return page.page(rows, public=GoalPublic.of)


@router.get("/goals/{goal_id}", operation_id="getGoal", dependencies=[requires(Access.REP_READ, by_row=True)])
def get_goal(goal: VisibleGoal, tag: RecordTagDep) -> GoalPublic:
    """One goal, with its progress and write-back state; `ETag` is its revision."""
    return GoalPublic.of(tag(goal))


@router.patch(
    "/goals/{goal_id}", operation_id="updateGoal", dependencies=[requires(Access.REP_WRITE, by_row=True)]
)
def update_goal(
    db_session: DbSessionDep,
    goal: VisibleGoal,
    principal: CurrentPrincipal,
    now: NowDep,
    precondition: IfMatchDep,
    tag: RecordTagDep,
    body: GoalUpdate,
) -> GoalPublic:
    """Change the measurement plan, target or coach rating, or abandon the goal (skill goals may
    also be closed as `achieved` or `missed`). Closed goals answer 409; with `If-Match`, a goal
    changed since that tag answers 412."""
    changes = body.model_dump(exclude_unset=True)
    updated = goals.update_goal(
        db_session, goal=goal, changes=changes, actor=actor_of(principal), now=now, precondition=precondition
    )
    return GoalPublic.of(tag(updated))


@router.get(
    "/goals/{goal_id}/history",
    operation_id="getGoalHistory",
    dependencies=[requires(Access.REP_READ, by_row=True)],
)
def get_goal_history(db_session: ReadSessionDep, goal: VisibleGoal) -> GoalHistory:
    """Every status change of the goal, oldest first, with who made it and why."""
    return GoalHistory(
        goal_id=goal.id, items=[GoalStatusChangePublic.of(c) for c in goals.history(db_session, goal)]
    )
