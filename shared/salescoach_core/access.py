"""Who a caller is (`Principal`), which reps' records they may see and whose they may coach
(`RepScope`).

Every query that touches rep-owned rows filters through a `RepScope`, so the rules "a rep sees
themselves, a manager their org, admins and integrations everyone" and "a manager coaches the
people below them, never themselves" live here and nowhere else.
A manager's org is the transitive closure of User.ManagerId under them, from the synced
`sf_user` rows, computed in SQL by a recursive CTE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, exists, false, literal, or_, select, true
from sqlmodel import Session, col

from salescoach_core import models
from salescoach_core.errors import CannotCoachSelfError, DomainError, InvalidIdError
from salescoach_core.roles import Role
from salescoach_core.sfids import to18

# The synced users' table is read as `models.SfUser`, loaded on first use: a caller that needs
# only `Principal` (an API key without a Salesforce user) does not load the Salesforce tables.
PrincipalKind = Literal["api_key", "oidc"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an API key or the subject of an OIDC token."""

    kind: PrincipalKind
    subject: str
    """The key's prefix, or the token's `sub`: stable, safe to log, the rate-limit key."""
    name: str
    role: Role
    sf_user_id: str | None = None


def org_member_ids(manager_id: str) -> Select[str]:
    """Ids of every user under `manager_id` (direct reports, their reports, ...), not the manager.

    UNION (not UNION ALL) drops rows already found, so a ManagerId cycle in the synced data
    ends the recursion instead of looping.
    """
    user = models.SfUser
    org = select(col(user.id)).where(col(user.manager_id) == manager_id).cte("org", recursive=True)
    org = org.union(select(col(user.id)).join(org, col(user.manager_id) == org.c.id))
    return select(org.c.id)


@dataclass(frozen=True)
class RepScope:
    """The reps whose records a principal may read; built once per request."""

    principal: Principal
    session: Session

    @property
    def sees_everyone(self) -> bool:
        return self.principal.role in (Role.ADMIN, Role.INTEGRATION)

    def visible_rep_ids_clause(self, rep_column: Any) -> ColumnElement[bool]:
        """A WHERE condition keeping only rows whose `rep_column` (an owner/rep id) is visible.

        Stays in SQL (a sub-select on the org CTE), so lists filter in the database however
        large the org is.
        """
        if self.sees_everyone:
            return true()
        me = self.principal.sf_user_id
        if me is None:
            return false()
        if self.principal.role is Role.MANAGER:
            return or_(rep_column == literal(me), rep_column.in_(org_member_ids(me)))
        return rep_column == literal(me)  # type: ignore[no-any-return]

    def can_read_rep(self, rep_id: str) -> bool:
        """Whether `rep_id` (15 or 18 characters) is visible; a malformed id names no one."""
        if self.sees_everyone:
            return True
        try:
            rep_id = to18(rep_id)
        except ValueError:
            return False
        if rep_id == self.principal.sf_user_id:
            return True
        if self.principal.role is Role.MANAGER:
            return rep_id in self._org
        return False

    def can_coach_rep(self, rep_id: str) -> bool:
        """Whether the caller may change `rep_id`'s coaching records as their coach: an admin
        anyone's, a manager those of the people below them. Not their own: a manager's goals,
        sessions and items are set by someone above them, and reading them is not writing them."""
        if self.principal.role is Role.ADMIN:
            return True
        if self.principal.role is not Role.MANAGER:
            return False
        try:
            rep_id = to18(rep_id)
        except ValueError:
            return False
        # Compared explicitly: a ManagerId cycle in the synced data puts a manager in their own org.
        return rep_id != self.principal.sf_user_id and rep_id in self._org

    def require_rep(
        self,
        rep_id: str,
        *,
        missing: Callable[[str], DomainError],
        exists: Callable[[str], bool] | None = None,
    ) -> None:
        """Raise `missing(id)`, the 404 of the record the id names (the 18-character id), for an
        id outside the scope or, for everyone, one `exists` says names nothing: an id out of
        scope answers exactly what an absent one does, so the scope leaks nothing, and every
        caller learns of an absent id before anything else is checked. A malformed id is 422
        `invalid_id` for everyone (it names no one, so that leaks nothing)."""
        try:
            normalised = to18(rep_id)
        except ValueError as exc:
            raise InvalidIdError(f"{rep_id!r}: {exc}.") from exc
        if not self.can_read_rep(normalised) or (exists is not None and not exists(normalised)):
            raise missing(normalised)

    def require_coach(
        self,
        rep_id: str,
        *,
        missing: Callable[[str], DomainError],
        exists: Callable[[str], bool] | None = None,
    ) -> None:
        """`require_rep`, then 403 `cannot_coach_self` for a record the caller may read but not
        coach (a manager's own)."""
        self.require_rep(rep_id, missing=missing, exists=exists)
        if not self.can_coach_rep(rep_id):
            raise CannotCoachSelfError(
                "These coaching records are about you; someone above you in the org (or an admin) "
                "changes them."
            )

    @cached_property
    def _org(self) -> frozenset[str]:
        me = self.principal.sf_user_id
        if me is None:
            return frozenset()
        return frozenset(self.session.scalars(org_member_ids(me)).all())


def sf_user_exists(session: Session, sf_user_id: str) -> bool:
    return bool(session.scalar(select(exists().where(col(models.SfUser.id) == sf_user_id))))
