"""Weekly activity requirements: a default and per-team overrides, replaced as one document."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from salescoach_core.errors import UnprocessableError
from salescoach_core.models import DEFAULT_SCOPE, ActivityRequirement, SfUser
from salescoach_core.reps import normalise_user_id


class UnknownManagerError(UnprocessableError):
    code = "unknown_manager"
    title = "Unknown manager"


@dataclass(frozen=True)
class WeeklyRequirement:
    calls_per_week: Decimal | None
    emails_per_week: Decimal | None
    meetings_per_week: Decimal | None


def read_requirements(session: Session) -> tuple[WeeklyRequirement | None, dict[str, WeeklyRequirement]]:
    default = None
    teams = {}
    for row in session.exec(select(ActivityRequirement).order_by(col(ActivityRequirement.scope))):
        values = WeeklyRequirement(row.calls_per_week, row.emails_per_week, row.meetings_per_week)
        if row.scope == DEFAULT_SCOPE:
            default = values
        else:
            teams[row.scope] = values
    return default, teams


def replace_requirements(
    session: Session, *, default: WeeklyRequirement | None, teams: dict[str, WeeklyRequirement]
) -> None:
    """Replace every requirement. Team keys are managers' Salesforce User Ids (15 or 18 chars)."""
    normalised = {normalise_user_id(manager_id): values for manager_id, values in teams.items()}
    known = set(session.exec(select(SfUser.id).where(col(SfUser.id).in_(list(normalised)))))
    unknown = sorted(set(normalised) - known)
    if unknown:
        raise UnknownManagerError(
            f"No synced Salesforce user for team key(s) {', '.join(unknown)}; teams are keyed by manager id.",
            unknown_manager_ids=unknown,
        )
    session.execute(delete(ActivityRequirement))
    rows = ([(DEFAULT_SCOPE, default)] if default else []) + list(normalised.items())
    for scope, values in rows:
        session.add(
            ActivityRequirement(
                scope=scope,
                calls_per_week=values.calls_per_week,
                emails_per_week=values.emails_per_week,
                meetings_per_week=values.meetings_per_week,
                # Its own instant even inside one transaction: the scorecard cache keys on it.
                updated_at=func.clock_timestamp(),  # type: ignore[arg-type]
            )
        )
    session.flush()
