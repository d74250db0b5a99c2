"""Reps, teams and orgs (docs/domain.md): who is a rep, a manager's team and the org below them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, literal, or_, select
from sqlmodel import Session, col

from salescoach_core.access import org_member_ids
from salescoach_core.errors import NotFoundError, UnprocessableError
from salescoach_core.keyset import Keyset
from salescoach_core.models import SfOpportunity, SfUser
from salescoach_core.sfids import normalise_id


class InvalidRepIdError(NotFoundError):
    """A well-formed id of a user who is not a rep."""

    code = "rep_not_found"


class InvalidCoachError(UnprocessableError):
    code = "invalid_coach_id"
    title = "Not a coach of this rep"


def normalise_user_id(value: str, *, field: str = "id") -> str:
    """The 18-character id; 422 `invalid_id` for a malformed one (it cannot name a record)."""
    return normalise_id(value, field=field)


def coach_of(session: Session, *, rep_id: str, coach_id: str) -> str:
    """`coach_id` (18 characters) if it is an active user above the rep in the manager chain;
    else 422 `invalid_coach_id`, so a goal or session never names a coach who cannot coach."""
    coach_id = normalise_user_id(coach_id, field="coach_id")
    manages = exists().where(col(SfUser.id) == coach_id, col(SfUser.is_active).is_(True))
    in_chain = literal(rep_id).in_(org_member_ids(coach_id))
    if not session.scalar(select(manages & in_chain)):
        raise InvalidCoachError(
            f"`coach_id` {coach_id} is not an active user above rep {rep_id} in the manager chain "
            "(ManagerId); name the rep's manager or someone above them.",
            field="coach_id",
        )
    return coach_id


def rep_condition() -> object:
    """An active user who owns at least one opportunity or is listed in a team."""
    owns_opportunity = exists().where(
        col(SfOpportunity.owner_id) == SfUser.id, col(SfOpportunity.is_deleted).is_(False)
    )
    return col(SfUser.is_active).is_(True) & or_(owns_opportunity, col(SfUser.manager_id).is_not(None))


def list_reps(
    session: Session, *, keyset: Keyset, visible: Callable[[Any], ColumnElement[bool]]
) -> Sequence[SfUser]:
    """One page of the reps the caller may see (`visible` filters by rep id), in `keyset`'s order."""
    query = select(SfUser).where(rep_condition(), visible(SfUser.id))  # type: ignore[arg-type]
    return keyset.fetch(session, query)


def get_user(session: Session, user_id: str) -> SfUser:
    user = session.get(SfUser, normalise_user_id(user_id))
    if user is None:
        raise NotFoundError(f"No user {user_id!r} has been synced from Salesforce.")
    return user


def get_rep(session: Session, rep_id: str) -> SfUser:
    rep_id = normalise_user_id(rep_id)
    rep = session.scalars(
        select(SfUser).where(SfUser.id == rep_id, rep_condition())  # type: ignore[arg-type]
    ).first()
    if rep is None:
        raise InvalidRepIdError(
            f"No rep {rep_id!r}: a rep is an active Salesforce user who owns an opportunity or has a manager."
        )
    return rep


def team_members(session: Session, *, manager_id: str, whole_org: bool, active_only: bool) -> list[SfUser]:
    """The manager's direct reports, or with `whole_org` everyone below them, ordered by name."""
    manager_id = normalise_user_id(manager_id)
    if whole_org:
        # A ManagerId cycle in Salesforce data would put the manager in their own org.
        query = select(SfUser).where(
            col(SfUser.id).in_(org_member_ids(manager_id)), col(SfUser.id) != manager_id
        )
    else:
        query = select(SfUser).where(col(SfUser.manager_id) == manager_id)
    if active_only:
        query = query.where(col(SfUser.is_active).is_(True))
    return list(session.scalars(query.order_by(col(SfUser.name), col(SfUser.id))).all())
