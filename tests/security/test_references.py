"""References a write stores must name what they claim: a goal's or session's coach manages the
rep, an action item's opportunity is the rep's, and a malformed Salesforce id is 422 `invalid_id`
wherever it appears (path or body), for every role, before any lookup."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from salescoach_core.models import SfUser
from salescoach_core.roles import Role
from tests.plugins.auth import Org, RoleKeys
from tests.plugins.factories import Factory

SKILL_GOAL = {"kind": "skill", "skill": "discovery", "measurement_plan": "rated", "period": "2026-11"}
SESSION = {"scheduled_at": "2026-11-10T10:00:00Z"}


def _goal(client: TestClient, rep: SfUser, index: int = 0, **fields: Any) -> Any:
    # One month per goal: a rep may have only two active goals in overlapping periods.
    period = f"2025-{index + 1:02d}"
    return client.post(f"/v1/reps/{rep.id}/goals", json={**SKILL_GOAL, "period": period, **fields})


def _session(client: TestClient, rep: SfUser, index: int = 0, **fields: Any) -> Any:
    return client.post(f"/v1/reps/{rep.id}/sessions", json={**SESSION, "coach_id": rep.manager_id, **fields})


@pytest.mark.parametrize("create", [_goal, _session], ids=["goal", "session"])
def test_coach_must_be_an_active_manager_of_the_rep(
    client: TestClient, org: Org, factory: Factory, create: Any
) -> None:
    # rep_a3 reports to rep_a2, who reports to manager_a, who reports to the VP.
    for index, coach in enumerate((org.rep_a2, org.manager_a, org.vp)):
        answer = create(client, org.rep_a3, index, coach_id=coach.id)
        assert answer.status_code == 201, (coach.name, answer.text)
        assert answer.json()["coach_id"] == coach.id
    former = factory.user("Former Manager", active=False)
    their_rep = factory.user("Rex Rep", manager=former)
    for index, (coach, rep) in enumerate(
        (
            (org.manager_b, org.rep_a2),
            (org.rep_a1, org.rep_a2),
            (org.rep_a3, org.rep_a2),
            (org.rep_a2, org.rep_a2),
            (former, their_rep),
        )
    ):
        answer = create(client, rep, index, coach_id=coach.id)
        assert answer.status_code == 422, (coach.name, answer.text)
        assert answer.json()["code"] == "invalid_coach_id"
        assert coach.id in answer.json()["detail"]


def test_a_session_cannot_be_moved_to_a_coach_outside_the_chain(client: TestClient, org: Org) -> None:
    session = _session(client, org.rep_a1)
    assert session.status_code == 201
    moved = client.patch(f"/v1/sessions/{session.json()['id']}", json={"coach_id": org.manager_b.id})
    assert moved.status_code == 422
    assert moved.json()["code"] == "invalid_coach_id"
    assert client.get(f"/v1/sessions/{session.json()['id']}").json()["coach_id"] == org.manager_a.id


def test_action_item_opportunity_must_be_the_reps(client: TestClient, org: Org, factory: Factory) -> None:
    created = datetime(2026, 11, 2, tzinfo=UTC)
    own = factory.opportunity(org.rep_a1, created=created)
    other = factory.opportunity(org.rep_b1, created=created)
    gone = factory.opportunity(org.rep_a1, created=created, deleted=True)
    session = _session(client, org.rep_a1).json()
    path = f"/v1/sessions/{session['id']}/action-items"

    kept = client.post(path, json={"description": "Call", "opportunity_id": own.id[:15]})
    assert kept.status_code == 201, kept.text
    assert kept.json()["opportunity_id"] == own.id
    for wrong in (other, gone):
        refused = client.post(path, json={"description": "Call", "opportunity_id": wrong.id})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_opportunity_id"
    changed = client.patch(f"/v1/action-items/{kept.json()['id']}", json={"opportunity_id": other.id})
    assert changed.status_code == 422
    assert changed.json()["code"] == "invalid_opportunity_id"


MALFORMED = ["not-an-id", "005000000000001AAZ", "0050000000000", "x" * 40]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.REP])
@pytest.mark.parametrize("malformed", MALFORMED)
def test_malformed_id_in_a_path_is_422_invalid_id_for_every_role(
    client: TestClient, role_keys: RoleKeys, role: Role, malformed: str
) -> None:
    for path in (f"/v1/reps/{malformed}", f"/v1/reps/{malformed}/sessions", f"/v1/teams/{malformed}"):
        answer = client.get(path, headers=role_keys.headers(role))
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["code"] == "invalid_id"


@pytest.mark.parametrize("malformed", MALFORMED)
def test_malformed_id_in_a_body_is_422_invalid_id_naming_the_field(
    client: TestClient, org: Org, malformed: str
) -> None:
    answer = _goal(client, org.rep_a1, coach_id=malformed)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_id"
    assert [e["loc"] for e in answer.json()["errors"]] == [["body", "coach_id"]]
