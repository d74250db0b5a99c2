"""Reps and people (docs/api.md, "Reps and people"): `GET /v1/reps`, `/v1/reps/{id}`, the
members of `/v1/teams/{id}` and `bi.reps` are one set, the reps of docs/domain.md (an active user
who owns an opportunity that is not deleted, or has a manager); `GET /v1/people/{id}` answers for
anyone synced, VPs included, within the caller's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.models import SfUser
from salescoach_core.roles import Role
from tests.plugins.auth import Org, RoleKeys
from tests.plugins.factories import Factory

CREATED = datetime(2026, 10, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoOrg:
    """The demo org's shape: a VP over sales managers over account executives, the last one
    inactive; plus a rep without a manager, and two users who are no one's rep."""

    vp: SfUser
    managers: list[SfUser]
    executives: list[SfUser]
    inactive: SfUser
    solo_owner: SfUser
    deleted_owner: SfUser
    admin_user: SfUser

    @property
    def everyone(self) -> list[SfUser]:
        return [
            self.vp,
            *self.managers,
            *self.executives,
            self.inactive,
            self.solo_owner,
            self.deleted_owner,
            self.admin_user,
        ]

    @property
    def reps(self) -> set[str]:
        """By hand, from the definition: everyone with a manager who is active, and the active
        owner of an opportunity that is not deleted."""
        return {m.id for m in self.managers} | {e.id for e in self.executives} | {self.solo_owner.id}


@pytest.fixture
def demo(factory: Factory) -> DemoOrg:
    vp = factory.user("Vera VP", title="VP Sales")
    managers = [factory.user(f"Manager {n}", manager=vp, title="Sales Manager") for n in (1, 2)]
    executives = [
        factory.user(f"Executive {n}", manager=managers[n % 2], title="Account Executive") for n in range(4)
    ]
    inactive = factory.user("Executive Gone", manager=managers[0], active=False)
    for owner in (*executives, inactive):
        factory.opportunity(owner, created=CREATED)
    solo_owner = factory.user("Solo Owner")
    factory.opportunity(solo_owner, created=CREATED)
    deleted_owner = factory.user("Deleted Owner")
    factory.opportunity(deleted_owner, created=CREATED, deleted=True)
    return DemoOrg(
        vp=vp,
        managers=managers,
        executives=executives,
        inactive=inactive,
        solo_owner=solo_owner,
        deleted_owner=deleted_owner,
        admin_user=factory.user("Org Admin"),
    )


def listed_reps(client: TestClient, **headers: str) -> list[dict[str, object]]:
    reps: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/reps", params=params, headers=headers).json()
        reps.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return reps


def test_rep_list_rep_lookup_teams_and_bi_reps_are_one_set(
    client: TestClient, db_session: Session, demo: DemoOrg
) -> None:
    ours = {user.id for user in demo.everyone}
    listed = {str(rep["id"]) for rep in listed_reps(client)} & ours
    looked_up = {user.id for user in demo.everyone if client.get(f"/v1/reps/{user.id}").status_code == 200}
    in_bi = {row for (row,) in db_session.execute(text("SELECT rep_id FROM bi.reps")) if row in ours}
    assert listed == looked_up == in_bi == demo.reps

    manager_of = {user.id: user.manager_id for user in demo.everyone}
    in_teams: set[str] = set()
    for manager in (demo.vp, *demo.managers):
        members = {m["id"] for m in client.get(f"/v1/teams/{manager.id}").json()["members"]}
        assert members == {r for r in demo.reps if manager_of[r] == manager.id}, manager.name
        in_teams |= members
    assert in_teams == {r for r in demo.reps if manager_of[r] is not None}
    whole_org = client.get(f"/v1/teams/{demo.vp.id}", params={"scope": "org"}).json()
    assert {m["id"] for m in whole_org["members"]} == demo.reps - {demo.solo_owner.id}


def test_a_vp_and_every_synced_user_can_be_looked_up_as_a_person(
    client: TestClient, db_session: Session, demo: DemoOrg
) -> None:
    vp = client.get(f"/v1/people/{demo.vp.id}")
    assert vp.status_code == 200
    assert vp.json() == {
        "id": demo.vp.id,
        "name": "Vera VP",
        "email": "vera.vp@example.com",
        "title": "VP Sales",
        "is_active": True,
        "manager_id": None,
        "is_rep": False,
        "is_manager": True,
    }
    assert client.get(f"/v1/reps/{demo.vp.id}").json()["code"] == "rep_not_found"

    people = {user.id: client.get(f"/v1/people/{user.id[:15]}").json() for user in demo.everyone}
    assert {i for i, person in people.items() if person["is_rep"]} == demo.reps
    assert {i for i, person in people.items() if person["is_manager"]} == {
        demo.vp.id,
        *(m.id for m in demo.managers),
    }
    assert people[demo.inactive.id]["is_active"] is False

    in_bi = {
        user_id: (is_rep, is_manager)
        for user_id, is_rep, is_manager in db_session.execute(
            text("SELECT user_id, is_rep, is_manager FROM bi.people")
        )
        if user_id in people
    }
    assert in_bi == {i: (p["is_rep"], p["is_manager"]) for i, p in people.items()}

    unknown = client.get("/v1/people/005000000000000AAA")
    assert unknown.status_code == 404


def test_scoped_keys_see_only_their_scope_of_people_and_reps(
    client: TestClient, org: Org, role_keys: RoleKeys
) -> None:
    everyone = [org.vp, org.manager_a, org.rep_a1, org.rep_a2, org.rep_a3, org.manager_b, org.rep_b1]
    visible = {
        Role.ADMIN: {u.id for u in everyone},
        Role.INTEGRATION: {u.id for u in everyone},
        Role.MANAGER: {org.manager_a.id, org.rep_a1.id, org.rep_a2.id, org.rep_a3.id},
        Role.REP: {org.rep_a1.id},
    }
    ours = {u.id for u in everyone}
    for role, expected in visible.items():
        headers = role_keys.headers(role)
        people = {
            u.id for u in everyone if client.get(f"/v1/people/{u.id}", headers=headers).status_code == 200
        }
        assert people == expected, role
        # The rep list is the same scope less the VP, who is no rep.
        assert {str(rep["id"]) for rep in listed_reps(client, **headers)} & ours == expected - {org.vp.id}, (
            role
        )
    # Outside the scope answers what an unknown id answers.
    above = client.get(f"/v1/people/{org.vp.id}", headers=role_keys.headers(Role.MANAGER))
    unknown = client.get("/v1/people/005000000000000AAA", headers=role_keys.headers(Role.MANAGER))
    assert (above.status_code, above.json()["code"]) == (unknown.status_code, unknown.json()["code"])
