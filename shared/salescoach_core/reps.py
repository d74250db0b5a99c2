"""Reps, teams and orgs (docs/domain.md): who is a rep, a manager's team and the org below them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, literal, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from salescoach_core.access import org_member_ids
from salescoach_core.errors import NotFoundError, UnprocessableError
from salescoach_core.keyset import Keyset
from salescoach_core.models import SfOpportunity, SfUser
from salescoach_core.sfids import normalise_id


class RepNotFoundError(NotFoundError):
    """No rep with this id among those the caller may see: absent, not a rep, or out of scope."""

    code = "rep_not_found"
    title = "Rep not found"
    template = "No rep {id} among those you may see; `GET /v1/reps` lists them."


class PersonNotFoundError(NotFoundError):
    """No synced user with this id among those the caller may see."""

    code = "person_not_found"
    title = "Person not found"
    template = "No Salesforce user {id} among those you may see; `GET /v1/reps` lists the reps."


class ManagerNotFoundError(NotFoundError):
    """No manager (a user with a rep reporting to them) with this id among those the caller may see."""

    code = "manager_not_found"
    title = "Manager not found"
    template = (
        "No manager {id} among those you may see: a manager is a user with at least one rep "
        "reporting to them (User.ManagerId); the `manager_id` of the reps in `GET /v1/reps` names them."
    )


class InvalidCoachError(UnprocessableError):
    code = "invalid_coach_id"
    title = "Not a coach of this rep"


def normalise_user_id(value: str, *, field: str = "id") -> str:
    """The 18-character id; 422 `invalid_id` for a malformed one (it cannot name a record)."""
    return normalise_id(value, field=field)


class CoachIdRequiredError(UnprocessableError):
    """No `coach_id` given (or `null` sent to clear it), and the caller (an API key acting for no
    one) has no Salesforce user to default to: a goal and a session each belong to one coach."""

    code = "coach_id_required"
    title = "Coach required"


def coach_of(session: Session, *, rep_id: str, coach_id: str | None) -> str:
    """`coach_id` (18 characters) if it is an active user above the rep in the manager chain;
    else 422 `invalid_coach_id`, so a goal or session never names a coach who cannot coach, and
    422 `coach_id_required` when there is none (a goal or session always has its coach)."""
    if coach_id is None:
        raise CoachIdRequiredError(
            "Name the coach in `coach_id` (an active user above the rep in the manager chain): "
            "this credential acts for no Salesforce user, so there is no default coach.",
            field="coach_id",
        )
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


def rep_condition(user: Any = SfUser) -> ColumnElement[bool]:
    """Whether `user` (SfUser, or an alias of it) is a rep: an active user who owns at least one
    opportunity that is not deleted, or is listed in a team (has a manager). The one definition
    behind `GET /v1/reps`, `/v1/reps/{id}`, the members of `/v1/teams/{id}` and `bi.reps`."""
    # `NOT is_deleted`, the predicate of the opportunity indexes (`is_deleted IS false` is not
    # one the planner matches to it), so the check is an index probe, not a scan of the table.
    owns_opportunity = exists().where(col(SfOpportunity.owner_id) == user.id, ~col(SfOpportunity.is_deleted))
    return user.is_active.is_(True) & or_(owns_opportunity, user.manager_id.is_not(None))  # type: ignore[no-any-return]


def manages_a_rep(user: Any = SfUser) -> ColumnElement[bool]:
    """Whether `user`'s team (`GET /v1/teams/{id}`) has at least one rep."""
    report = aliased(SfUser, name="report")
    return exists().where(report.manager_id == user.id, rep_condition(report))


def list_reps(
    session: Session, *, keyset: Keyset, visible: Callable[[Any], ColumnElement[bool]]
) -> Sequence[SfUser]:
    """One page of the reps the caller may see (`visible` filters by rep id), in `keyset`'s order."""
    query = select(SfUser).where(rep_condition(), visible(SfUser.id))
    return keyset.fetch(session, query)


def get_user(session: Session, user_id: str) -> SfUser:
    """The synced user a rep path parameter names, active or not (a former rep's records stay
    readable); 404 `rep_not_found` when there is none."""
    user_id = normalise_user_id(user_id)
    user = session.get(SfUser, user_id)
    if user is None:
        raise RepNotFoundError.of(user_id)
    return user


def is_manager(session: Session, user_id: str) -> bool:
    """Whether `user_id` (18 characters) is a synced user whose team has a rep: a manager."""
    return bool(session.scalar(select(manages_a_rep()).where(col(SfUser.id) == user_id)))


def get_manager(session: Session, manager_id: str) -> SfUser:
    """The user a team is named after: a synced user whose team has a rep; 404
    `manager_not_found` for anyone else."""
    manager_id = normalise_user_id(manager_id)
    manager = session.get(SfUser, manager_id)
    if manager is None or not is_manager(session, manager_id):
        raise ManagerNotFoundError.of(manager_id)
    return manager


def get_rep(session: Session, rep_id: str) -> SfUser:
    rep_id = normalise_user_id(rep_id)
    rep = session.scalars(select(SfUser).where(col(SfUser.id) == rep_id, rep_condition())).first()
    if rep is None:
        # The same answer as an id out of the caller's scope: a rep is an active user who owns
        # an opportunity or has a manager, and the caller learns no more than that there is none.
        raise RepNotFoundError.of(rep_id)
    return rep


def team_members(session: Session, *, manager_id: str, whole_org: bool) -> list[SfUser]:
    """The reps among the manager's direct reports, or with `whole_org` among everyone below
    them, ordered by name. Everyone there has a manager, so these are the active ones."""
    manager_id = normalise_user_id(manager_id)
    if whole_org:
        # A ManagerId cycle in Salesforce data would put the manager in their own org.
        query = select(SfUser).where(
            col(SfUser.id).in_(org_member_ids(manager_id)), col(SfUser.id) != manager_id
        )
    else:
        query = select(SfUser).where(col(SfUser.manager_id) == manager_id)
    query = query.where(rep_condition())
    return list(session.scalars(query.order_by(col(SfUser.name), col(SfUser.id))).all())


@dataclass(frozen=True)
class Person:
    """Any synced user (a rep, a manager, a VP at the top of the org, an inactive user) and
    what they are: a rep by `rep_condition`, a manager when their team has a rep."""

    user: SfUser
    is_rep: bool
    is_manager: bool


def get_person(session: Session, user_id: str) -> Person:
    user_id = normalise_user_id(user_id)
    user = session.get(SfUser, user_id)
    if user is None:
        raise PersonNotFoundError.of(user_id)
    is_rep, is_manager = session.execute(
        select(rep_condition(), manages_a_rep()).where(col(SfUser.id) == user.id)
    ).one()
    return Person(user=user, is_rep=is_rep, is_manager=is_manager)
