"""`/v1/activity-requirements`: read or replace the weekly activity requirements."""

from __future__ import annotations

from salescoach_api.activity_requirements.schemas import ActivityRequirements, WeeklyRequirementBody
from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import DbSessionDep
from salescoach_core import activity_requirements

router = v1_router(prefix="/v1", tags=["activity requirements"])


def _document(db_session: DbSessionDep) -> ActivityRequirements:
    default, teams = activity_requirements.read_requirements(db_session)
    return ActivityRequirements(
        default=WeeklyRequirementBody.of(default) if default else None,
        teams={manager_id: WeeklyRequirementBody.of(values) for manager_id, values in teams.items()},
    )


@router.get(
    "/activity-requirements",
    operation_id="getActivityRequirements",
    dependencies=[requires(Access.AUTHENTICATED)],
)
def get_requirements(db_session: DbSessionDep) -> ActivityRequirements:
    """The default weekly requirement and the per-team overrides."""
    return _document(db_session)


@router.put(
    "/activity-requirements",
    operation_id="setActivityRequirements",
    dependencies=[requires(Access.ADMIN)],
)
def put_requirements(db_session: DbSessionDep, body: ActivityRequirements) -> ActivityRequirements:
    """Replace all requirements with this document (teams not listed lose their override)."""
    activity_requirements.replace_requirements(
        db_session,
        default=body.default.to_domain() if body.default else None,
        teams={manager_id: values.to_domain() for manager_id, values in body.teams.items()},
    )
    return _document(db_session)
