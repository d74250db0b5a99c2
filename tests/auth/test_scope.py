"""RepScope: the one filter every rep-scoped query uses, on the org of tests/plugins/auth.py."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from salescoach_core.access import Principal, RepScope, org_member_ids
from salescoach_core.models import SfUser
from salescoach_core.reps import RepNotFoundError
from salescoach_core.roles import Role
from tests.plugins.auth import Org
from tests.plugins.factories import Factory


def scope_for(session: Session, role: Role, sf_user_id: str | None) -> RepScope:
    principal = Principal(
        kind="api_key", subject="sc_live_test0000", name="t", role=role, sf_user_id=sf_user_id
    )
    return RepScope(principal=principal, session=session)


def visible(session: Session, scope: RepScope, org: Org) -> set[str]:
    everyone = {u.id for u in vars(org).values()}
    rows = session.scalars(select(col(SfUser.id)).where(scope.visible_rep_ids_clause(col(SfUser.id))))
    return set(rows) & everyone


def test_org_closure_is_transitive_and_excludes_the_manager(db_session: Session, org: Org) -> None:
    members = set(db_session.scalars(org_member_ids(org.manager_a.id)))
    assert members == {org.rep_a1.id, org.rep_a2.id, org.rep_a3.id}
    assert set(db_session.scalars(org_member_ids(org.vp.id))) >= {org.manager_b.id, org.rep_a3.id}


def test_a_manager_id_cycle_ends_the_recursion(db_session: Session, factory: Factory) -> None:
    first = factory.user("Cy One")
    second = factory.user("Cy Two", manager=first)
    first.manager_id = second.id
    db_session.add(first)
    db_session.flush()
    assert set(db_session.scalars(org_member_ids(first.id))) == {first.id, second.id}


@pytest.mark.parametrize(
    ("role", "acting_for", "expected"),
    [
        (Role.ADMIN, None, {"vp", "manager_a", "rep_a1", "rep_a2", "rep_a3", "manager_b", "rep_b1"}),
        (Role.INTEGRATION, None, {"vp", "manager_a", "rep_a1", "rep_a2", "rep_a3", "manager_b", "rep_b1"}),
        (Role.MANAGER, "manager_a", {"manager_a", "rep_a1", "rep_a2", "rep_a3"}),
        (Role.MANAGER, "rep_a2", {"rep_a2", "rep_a3"}),
        (Role.REP, "rep_a1", {"rep_a1"}),
        (Role.REP, None, set()),
    ],
)
def test_sql_filter_and_single_checks_agree_for_each_role(
    db_session: Session, org: Org, role: Role, acting_for: str | None, expected: set[str]
) -> None:
    user_id = getattr(org, acting_for).id if acting_for else None
    scope = scope_for(db_session, role, user_id)
    expected_ids = {getattr(org, name).id for name in expected}
    assert visible(db_session, scope, org) == expected_ids
    for name, user in vars(org).items():
        assert scope.can_read_rep(user.id) == (user.id in expected_ids), name


def test_require_rep_answers_the_records_own_not_found_outside_the_scope(
    db_session: Session, org: Org
) -> None:
    scope = scope_for(db_session, Role.REP, org.rep_a1.id)
    scope.require_rep(org.rep_a1.id, missing=RepNotFoundError.of)
    with pytest.raises(RepNotFoundError) as refused:
        scope.require_rep(org.rep_b1.id[:15], missing=RepNotFoundError.of)
    # The 18-character id, as a missing rep's answer names it.
    assert refused.value.detail == RepNotFoundError.of(org.rep_b1.id).detail
