"""Auth fixtures: a small org of two teams, and an API key per role tied to it.

    vp
    ├── manager_a ── rep_a1, rep_a2 ── (rep_a2 manages) rep_a3
    └── manager_b ── rep_b1

The manager key acts for manager_a (org: rep_a1, rep_a2, rep_a3), the rep key for rep_a1;
team B is "the other team" in every scope test.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from salescoach_core.api_keys import create_api_key
from salescoach_core.integrations import webhooks
from salescoach_core.models import SfUser
from salescoach_core.roles import Role
from tests.plugins.factories import Factory


@dataclass(frozen=True)
class Org:
    vp: SfUser
    manager_a: SfUser
    rep_a1: SfUser
    rep_a2: SfUser
    rep_a3: SfUser
    manager_b: SfUser
    rep_b1: SfUser


@dataclass(frozen=True)
class RoleKeys:
    """One API key per role: the plaintext, ready for an Authorization header."""

    keys: dict[Role, str]

    def headers(self, role: Role) -> dict[str, str]:
        return bearer(self.keys[role])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def org(factory: Factory) -> Org:
    return build_org(factory)


def build_org(factory: Factory) -> Org:
    vp = factory.user("Vera VP")
    manager_a = factory.user("Ann Manager", manager=vp)
    manager_b = factory.user("Bob Manager", manager=vp)
    rep_a2 = factory.user("Alan Rep", manager=manager_a)
    return Org(
        vp=vp,
        manager_a=manager_a,
        rep_a1=factory.user("Amy Rep", manager=manager_a),
        rep_a2=rep_a2,
        rep_a3=factory.user("Arlo Rep", manager=rep_a2),
        manager_b=manager_b,
        rep_b1=factory.user("Bea Rep", manager=manager_b),
    )


@pytest.fixture
def role_keys(db_session: Session, org: Org) -> RoleKeys:
    return build_role_keys(db_session, org)


def build_role_keys(session: Session, org: Org) -> RoleKeys:
    acting_for = {
        Role.ADMIN: None,
        Role.MANAGER: org.manager_a.id,
        Role.REP: org.rep_a1.id,
        Role.INTEGRATION: None,
    }
    return RoleKeys(
        keys={
            role: create_api_key(session, name=f"test {role.value}", role=role, sf_user_id=user).plaintext
            for role, user in acting_for.items()
        }
    )


@pytest.fixture
def committed_org(committed_url: str) -> tuple[Org, RoleKeys]:
    """The org and a key per role, committed to the module's committed database (for `live_api`);
    fresh ids on every call, so tests of one module never share rows."""
    engine = create_engine(committed_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org = build_org(Factory(session))
            keys = build_role_keys(session, org)
            session.commit()
    finally:
        engine.dispose()
    return org, keys


@pytest.fixture
def path_values(client: TestClient, db_session: Session, org: Org, admin_key: str) -> dict[str, str]:
    """A usable value for every path parameter of the API (a session, an action item, a goal, a
    webhook of rep_a1's org...), so a request reaches its body and query validation."""
    session = client.post(
        f"/v1/reps/{org.rep_a1.id}/sessions",
        json={"scheduled_at": "2026-11-10T10:00:00Z", "coach_id": org.manager_a.id},
    )
    assert session.status_code == 201, session.text
    item = client.post(f"/v1/sessions/{session.json()['id']}/action-items", json={"description": "Call"})
    assert item.status_code == 201, item.text
    goal = client.post(
        f"/v1/reps/{org.rep_a1.id}/goals",
        json={
            "kind": "skill",
            "skill": "discovery",
            "measurement_plan": "rated",
            "period": "2026-11",
            "coach_id": org.manager_a.id,
        },
    )
    assert goal.status_code == 201, goal.text
    endpoint = webhooks.create_endpoint(
        db_session,
        url="https://bi.example.com/hooks",
        event_types=[],
        secret=None,
        description=None,
        now=datetime.now(UTC),
        allow_private_targets=False,
    )
    return {
        "rep_id": org.rep_a1.id,
        "manager_id": org.manager_a.id,
        "user_id": org.manager_a.id,
        "session_id": session.json()["id"],
        "item_id": item.json()["id"],
        "goal_id": goal.json()["id"],
        "webhook_id": str(endpoint.id),
        "delivery_id": str(uuid.uuid4()),
        "month": "2026-11",
        "prefix": admin_key[:16],
    }


def clear_of_a_minute_boundary(engine: Engine, margin_seconds: float = 5.0) -> None:
    """Wait, when the database's clock is within `margin_seconds` of the next minute, until that
    minute has begun: the rate limit counts per minute of that clock, and a test sending a few
    requests must not see the window change midway."""
    with engine.connect() as conn:
        second = float(conn.execute(text("SELECT extract(second FROM clock_timestamp())")).scalar_one())
    if second > 60 - margin_seconds:
        time.sleep(60 - second + 0.1)
