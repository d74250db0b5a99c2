"""`/v1/reps` and `/v1/teams/{manager_id}`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from salescoach_api.auth.dependencies import RepScopeDep
from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import ReadSessionDep
from salescoach_api.pagination import Page, PaginationDep, encode_cursor
from salescoach_api.reps.schemas import RepPublic, TeamPublic
from salescoach_core import reps

router = v1_router(prefix="/v1", tags=["reps"])

ScopeQuery = Annotated[
    Literal["team", "org"], Query(description="`team`: direct reports; `org`: everyone below the manager.")
]


@router.get("/reps", operation_id="listReps", dependencies=[requires(Access.REP_LIST)])
def list_reps(
    db_session: ReadSessionDep,
    scope: RepScopeDep,
    page: PaginationDep,
) -> Page[RepPublic]:
    """Reps visible to the caller: active Salesforce users who own an opportunity or have a
    manager, by id."""
    rows = reps.list_reps(
        db_session, after_id=page.after_key(), limit=page.fetch, visible=scope.visible_rep_ids_clause
    )
    return page.page(rows, public=RepPublic.of, cursor_of=lambda user: encode_cursor(user.id))


@router.get("/reps/{rep_id}", operation_id="getRep", dependencies=[requires(Access.REP_READ, rep="rep_id")])
def get_rep(db_session: ReadSessionDep, rep_id: str) -> RepPublic:
    """One rep, by Salesforce User Id (15 or 18 characters)."""
    return RepPublic.of(reps.get_rep(db_session, rep_id))


@router.get(
    "/teams/{manager_id}", operation_id="getTeam", dependencies=[requires(Access.REP_READ, rep="manager_id")]
)
def get_team(db_session: ReadSessionDep, manager_id: str, scope: ScopeQuery = "team") -> TeamPublic:
    """A manager's direct reports, or their whole org (a manager sees their own and those below)."""
    manager = reps.get_user(db_session, manager_id)
    members = reps.team_members(
        db_session, manager_id=manager.id, whole_org=scope == "org", active_only=False
    )
    return TeamPublic(manager=RepPublic.of(manager), scope=scope, members=[RepPublic.of(m) for m in members])
