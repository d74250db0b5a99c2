"""`/v1/reps/{rep_id}/sessions`, `/v1/sessions/{session_id}` and its closing actions, action
items, the rep's plan and the diagnosis."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Request, status

from salescoach_api.auth.dependencies import CurrentPrincipal, RepScopeDep
from salescoach_api.auth.policy import Access, require_row_access, requires, v1_router
from salescoach_api.dependencies import DbSessionDep, NowDep, ReadSessionDep, SettingsDep
from salescoach_api.goals.dependencies import actor_of
from salescoach_api.goals.schemas import GoalPublic
from salescoach_api.pagination import Page, SortedPagination, Sorting
from salescoach_api.periods import PeriodDep
from salescoach_api.sessions.schemas import (
    ActionItemCreate,
    ActionItemPublic,
    ActionItemUpdate,
    DiagnosisPublic,
    HoldRequest,
    ItemStatus,
    PlanPublic,
    SessionCreate,
    SessionPublic,
    SessionStatus,
    SessionUpdate,
)
from salescoach_api.versions import IfMatchDep, RecordTagDep, VersionedRoute
from salescoach_core import reps
from salescoach_core.coaching import action_items, sessions
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.diagnosis import diagnose
from salescoach_core.coaching.errors import (
    ActionItemNotFoundError,
    CoachCancelsActionItemsError,
    CoachOwnedActionItemError,
    SessionNotFoundError,
)
from salescoach_core.coaching.goals import active_overlapping
from salescoach_core.errors import CannotCoachSelfError
from salescoach_core.models import ActionItem, CoachingSession
from salescoach_core.periods import Period, month_of

router = v1_router(prefix="/v1", tags=["sessions"], route_class=VersionedRoute)

REP_ITEM_FIELDS = frozenset({"status", "completed_on"})

SESSION_SORTING = Sorting(
    name="sessions",
    id_column=CoachingSession.id,
    fields={
        "scheduled_at": CoachingSession.scheduled_at,
        "created_at": CoachingSession.created_at,
        "updated_at": CoachingSession.updated_at,
        "follow_up_at": CoachingSession.follow_up_at,
        "closed_at": CoachingSession.closed_at,
    },
    default="scheduled_at",
)
ACTION_ITEM_SORTING = Sorting(
    name="action_items",
    id_column=ActionItem.id,
    fields={
        "created_at": ActionItem.created_at,
        "updated_at": ActionItem.updated_at,
        "due_date": ActionItem.due_date,
        "completed_on": ActionItem.completed_on,
    },
    default="created_at",
)


def visible_session(
    request: Request, db_session: DbSessionDep, scope: RepScopeDep, session_id: uuid.UUID
) -> CoachingSession:
    """The session, if the caller may see its rep (and coach them, on a write); checked before
    the body is validated. Out of scope answers exactly what a missing session answers."""
    row = sessions.get_session(db_session, session_id)
    require_row_access(request, scope, row.rep_id, missing=SessionNotFoundError.of(session_id))
    return row


def visible_item(
    request: Request, db_session: DbSessionDep, scope: RepScopeDep, item_id: uuid.UUID
) -> ActionItem:
    item = action_items.get_action_item(db_session, item_id)
    require_row_access(request, scope, item.rep_id, missing=ActionItemNotFoundError.of(item_id))
    return item


VisibleSession = Annotated[CoachingSession, Depends(visible_session)]
VisibleItem = Annotated[ActionItem, Depends(visible_item)]


def _public(db_session: DbSessionDep, row: CoachingSession) -> SessionPublic:
    return SessionPublic.of(row, action_items.items_of(db_session, row))


def _today(settings: SettingsDep, now: NowDep) -> date:
    return now.astimezone(CoachingConfig.from_settings(settings).scorecard.zone).date()


@router.post(
    "/reps/{rep_id}/sessions",
    operation_id="createSession",
    status_code=status.HTTP_201_CREATED,
    dependencies=[requires(Access.REP_WRITE, rep="rep_id")],
)
def create_session(
    db_session: DbSessionDep,
    principal: CurrentPrincipal,
    now: NowDep,
    tag: RecordTagDep,
    rep_id: str,
    body: SessionCreate,
) -> SessionPublic:
    """Schedule a developmental or consequence session (a consequence session states the
    standard, the deadline and the consequence up front)."""
    rep = reps.get_rep(db_session, rep_id)
    fields = body.model_dump(exclude_unset=True, exclude={"mode", "coach_id"})
    fields["scheduled_at"] = body.scheduled_at
    fields["duration_minutes"] = body.duration_minutes
    row = sessions.create_session(
        db_session,
        rep=rep,
        mode=body.mode,
        coach_id=body.coach_id or principal.sf_user_id,
        fields=fields,
        now=now,
    )
    return _public(db_session, tag(row))


@router.get(
    "/reps/{rep_id}/sessions",
    operation_id="listSessions",
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def list_sessions(
    db_session: ReadSessionDep,
    rep_id: str,
    page: Annotated[SortedPagination, SESSION_SORTING.depends()],
    status: SessionStatus | None = None,
) -> Page[SessionPublic]:
    """The rep's sessions with their action items; by scheduled time, oldest first, unless
    `sort` says otherwise."""
    rep = reps.get_user(db_session, rep_id)
    rows = sessions.list_sessions(db_session, rep_id=rep.id, status=status, keyset=page.keyset())
    items = action_items.items_by_session(db_session, rows)
    return page.page(rows, public=lambda row: SessionPublic.of(row, items[row.id]))


@router.get(
    "/sessions/{session_id}", operation_id="getSession", dependencies=[requires(Access.REP_READ, by_row=True)]
)
def get_session(db_session: DbSessionDep, row: VisibleSession, tag: RecordTagDep) -> SessionPublic:
    """One session with its action items; `ETag` is the session's own revision (its items
    have theirs)."""
    return _public(db_session, tag(row))


@router.patch(
    "/sessions/{session_id}",
    operation_id="updateSession",
    dependencies=[requires(Access.REP_WRITE, by_row=True)],
)
def update_session(
    db_session: DbSessionDep,
    now: NowDep,
    row: VisibleSession,
    precondition: IfMatchDep,
    tag: RecordTagDep,
    body: SessionUpdate,
) -> SessionPublic:
    """Edit a scheduled session (409 `session_closed` once held, canceled or no-show)."""
    fields = body.model_dump(exclude_unset=True)
    updated = sessions.update_session(db_session, row=row, fields=fields, now=now, precondition=precondition)
    return _public(db_session, tag(updated))


@router.post(
    "/sessions/{session_id}/hold",
    operation_id="holdSession",
    dependencies=[requires(Access.REP_WRITE, by_row=True)],
)
def hold_session(
    db_session: DbSessionDep,
    settings: SettingsDep,
    now: NowDep,
    row: VisibleSession,
    precondition: IfMatchDep,
    tag: RecordTagDep,
    body: HoldRequest | None = None,
) -> SessionPublic:
    """Close the session as held. Needs an action item with a due date and `follow_up_at`;
    otherwise 422 with code `action_item_with_due_date_required`, `follow_up_required` or
    `action_item_and_follow_up_required` and `missing`. Freezes the scorecard snapshot."""
    request = body or HoldRequest()
    fields = request.model_dump(exclude_unset=True, exclude={"snapshot_period"})
    snapshot = Period.parse(request.snapshot_period) if request.snapshot_period else None
    held = sessions.hold_session(
        db_session,
        row=row,
        fields=fields,
        snapshot_period=snapshot,
        now=now,
        config=CoachingConfig.from_settings(settings),
        precondition=precondition,
    )
    return _public(db_session, tag(held))


@router.post(
    "/sessions/{session_id}/cancel",
    operation_id="cancelSession",
    dependencies=[requires(Access.REP_WRITE, by_row=True)],
)
def cancel_session(
    db_session: DbSessionDep, now: NowDep, row: VisibleSession, precondition: IfMatchDep, tag: RecordTagDep
) -> SessionPublic:
    closed = sessions.close_session(
        db_session, row=row, status="canceled", now=now, precondition=precondition
    )
    return _public(db_session, tag(closed))


@router.post(
    "/sessions/{session_id}/no-show",
    operation_id="markSessionNoShow",
    dependencies=[requires(Access.REP_WRITE, by_row=True)],
)
def no_show_session(
    db_session: DbSessionDep, now: NowDep, row: VisibleSession, precondition: IfMatchDep, tag: RecordTagDep
) -> SessionPublic:
    closed = sessions.close_session(db_session, row=row, status="no_show", now=now, precondition=precondition)
    return _public(db_session, tag(closed))


@router.post(
    "/sessions/{session_id}/acknowledge",
    operation_id="acknowledgeSession",
    dependencies=[requires(Access.REP_SELF_WRITE, by_row=True)],
)
def acknowledge_session(
    db_session: DbSessionDep,
    principal: CurrentPrincipal,
    now: NowDep,
    row: VisibleSession,
    precondition: IfMatchDep,
    tag: RecordTagDep,
) -> SessionPublic:
    """The rep acknowledges a consequence session's standard, deadline and consequence
    (`acknowledged_by` records the caller). 409 for developmental sessions."""
    acknowledged = sessions.acknowledge(
        db_session, row=row, actor=actor_of(principal), now=now, precondition=precondition
    )
    return _public(db_session, tag(acknowledged))


@router.post(
    "/sessions/{session_id}/action-items",
    operation_id="createActionItem",
    status_code=status.HTTP_201_CREATED,
    dependencies=[requires(Access.REP_WRITE, by_row=True)],
)
def create_action_item(
    db_session: DbSessionDep, now: NowDep, row: VisibleSession, tag: RecordTagDep, body: ActionItemCreate
) -> ActionItemPublic:
    """An agreed action. Owned by the rep, it becomes a Salesforce Task owned by the rep."""
    item = action_items.create_action_item(
        db_session,
        row=row,
        owner=body.owner,
        description=body.description,
        due_date=body.due_date,
        opportunity_id=body.opportunity_id,
        now=now,
    )
    return ActionItemPublic.of(tag(item))


@router.get(
    "/action-items/{item_id}",
    operation_id="getActionItem",
    dependencies=[requires(Access.REP_READ, by_row=True)],
)
def get_action_item(item: VisibleItem, tag: RecordTagDep) -> ActionItemPublic:
    """One action item with its write-back state (a permanent Salesforce error shows here)."""
    return ActionItemPublic.of(tag(item))


@router.patch(
    "/action-items/{item_id}",
    operation_id="updateActionItem",
    dependencies=[requires(Access.REP_SELF_WRITE, by_row=True)],
)
def update_action_item(
    db_session: DbSessionDep,
    scope: RepScopeDep,
    settings: SettingsDep,
    now: NowDep,
    item: VisibleItem,
    precondition: IfMatchDep,
    tag: RecordTagDep,
    body: ActionItemUpdate,
) -> ActionItemPublic:
    """Edit, complete, cancel or reopen an item. On their own items the rep (a manager too, on
    items about themselves) may change only `status` and `completed_on` (403
    `cannot_coach_self`), and only of items they own (403 `coach_owned_action_item`), completing
    or reopening but not canceling them (403 `coach_cancels_action_items`); the coach changes
    the rest. `completed_on` lies between the item's creation date and today, in the
    org's zone (422 `completed_on_out_of_range`)."""
    changes = body.model_dump(exclude_unset=True)
    if not scope.can_coach_rep(item.rep_id):
        if not changes.keys() <= REP_ITEM_FIELDS:
            raise CannotCoachSelfError(
                "On your own action items you may change only `status` and `completed_on`; "
                "the content is your coach's."
            )
        if item.owner != "rep":
            raise CoachOwnedActionItemError(
                "This item is your coach's commitment, not yours: your coach completes, cancels or "
                "reopens it."
            )
        if changes.get("status") == "canceled":
            raise CoachCancelsActionItemsError(
                "Canceling a commitment is your coach's decision (a canceled item no longer counts "
                "toward kept commitments); you may complete it or reopen it."
            )
    zone = CoachingConfig.from_settings(settings).scorecard.zone
    updated = action_items.update_action_item(
        db_session, item=item, changes=changes, now=now, zone=zone, precondition=precondition
    )
    return ActionItemPublic.of(tag(updated))


@router.get(
    "/reps/{rep_id}/action-items",
    operation_id="listActionItems",
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def list_action_items(
    db_session: ReadSessionDep,
    rep_id: str,
    page: Annotated[SortedPagination, ACTION_ITEM_SORTING.depends()],
    status: ItemStatus | None = None,
) -> Page[ActionItemPublic]:
    """The rep's action items, optionally by status; oldest first unless `sort` says otherwise."""
    rep = reps.get_user(db_session, rep_id)
    rows = action_items.list_action_items(db_session, rep_id=rep.id, status=status, keyset=page.keyset())
    return page.page(rows, public=ActionItemPublic.of)


@router.get(
    "/reps/{rep_id}/plan", operation_id="getRepPlan", dependencies=[requires(Access.REP_READ, rep="rep_id")]
)
def get_plan(db_session: ReadSessionDep, settings: SettingsDep, now: NowDep, rep_id: str) -> PlanPublic:
    """The rep's 30-day plan: overdue open items, items due in the next 30 days (configurable),
    open items without a due date, and the active goals of the current month."""
    rep = reps.get_user(db_session, rep_id)
    today = _today(settings, now)
    days = settings.plan_days
    overdue, upcoming, undated = action_items.plan(db_session, rep_id=rep.id, today=today, days=days)
    goals = active_overlapping(db_session, rep_id=rep.id, period=month_of(today))
    return PlanPublic(
        rep_id=rep.id,
        from_=today,
        to=date.fromordinal(today.toordinal() + days),
        overdue=[ActionItemPublic.of(i) for i in overdue],
        items=[ActionItemPublic.of(i) for i in upcoming],
        undated=[ActionItemPublic.of(i) for i in undated],
        active_goals=[GoalPublic.of(g) for g in goals],
    )


@router.get(
    "/reps/{rep_id}/diagnosis",
    operation_id="getRepDiagnosis",
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def get_diagnosis(
    db_session: ReadSessionDep,
    settings: SettingsDep,
    now: NowDep,
    rep_id: str,
    chosen: PeriodDep,
) -> DiagnosisPublic:
    """`on_track`, `skill`, `will`, `no_commitments_due` or `too_early`, the figures behind it and
    the recommended coaching mode (docs/coaching.md, "Diagnosis").

    Default period: the running month in the org's zone."""
    rep = reps.get_rep(db_session, rep_id)
    config = CoachingConfig.from_settings(settings)
    diagnosis = diagnose(db_session, rep=rep, period=chosen, now=now, config=config)
    return DiagnosisPublic.of(diagnosis, config.scorecard.zone.key)
