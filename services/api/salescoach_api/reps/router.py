"""`/v1/reps`, `/v1/teams/{manager_id}` and `/v1/people/{user_id}` (docs/api.md, "Reps and
people")."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from salescoach_api.auth.dependencies import RepScopeDep
from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import ReadSessionDep
from salescoach_api.pagination import Page, SortedPagination, Sorting
from salescoach_api.reps.schemas import PersonPublic, RepPublic, TeamPublic
from salescoach_core import reps
from salescoach_core.models import SfUser

router = v1_router(prefix="/v1", tags=["reps"])

ScopeQuery = Annotated[
    Literal["team", "org"], Query(description="`team`: direct reports; `org`: everyone below the manager.")
]

REP_SORTING = Sorting(
    name="reps", id_column=SfUser.id, fields={"id": SfUser.id, "name": SfUser.name}, default="id"
)


@router.get("/reps", operation_id="listReps", dependencies=[requires(Access.REP_LIST)])
def list_reps(
    db_session: ReadSessionDep,
    scope: RepScopeDep,
    page: Annotated[SortedPagination, REP_SORTING.depends()],
) -> Page[RepPublic]:
    """Reps visible to the caller: active Salesforce users who own an opportunity or have a
    manager; by id unless `sort` says otherwise."""
    rows = reps.list_reps(db_session, keyset=page.keyset(), visible=scope.visible_rep_ids_clause)
    return page.page(rows, public=RepPublic.of)


@router.get("/reps/{rep_id}", operation_id="getRep", dependencies=[requires(Access.REP_READ, rep="rep_id")])
def get_rep(db_session: ReadSessionDep, rep_id: str) -> RepPublic:
    """One rep, by Salesforce User Id (15 or 18 characters)."""
    return RepPublic.of(reps.get_rep(db_session, rep_id))


@router.get(
    "/teams/{manager_id}", operation_id="getTeam", dependencies=[requires(Access.REP_READ, rep="manager_id")]
)
def get_team(db_session: ReadSessionDep, manager_id: str, scope: ScopeQuery = "team") -> TeamPublic:
    """The reps among a manager's direct reports, or in their whole org (a manager sees their own
    and those below): the members `GET /v1/reps` lists."""
    manager = reps.get_manager(db_session, manager_id)
    members = reps.team_members(db_session, manager_id=manager.id, whole_org=scope == "org")
    return TeamPublic(manager=RepPublic.of(manager), scope=scope, members=[RepPublic.of(m) for m in members])


@router.get(
    "/people/{user_id}", operation_id="getPerson", dependencies=[requires(Access.REP_READ, rep="user_id")]
)
def get_person(db_session: ReadSessionDep, user_id: str) -> PersonPublic:
    """Any synced Salesforce user the caller may see, rep or not (a manager, a VP at the top of
    the org, an inactive user), with whether they are a rep and whether they manage reps."""
    return PersonPublic.of_person(reps.get_person(db_session, user_id))
