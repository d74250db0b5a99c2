"""One code per condition, whoever asks: an id that names nothing the caller may see answers
exactly what an absent one answers (status, code, title, detail), for an admin and for a scoped
key; and every operation's 404 is the one its OpenAPI document lists."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.plugins.auth import Org, RoleKeys

from salescoach_api.auth.policy import ALLOWED_ROLES, Access
from salescoach_api.error_responses import CODES_EXTENSION
from salescoach_api.path_ids import NOT_FOUND
from salescoach_core.roles import Role

ABSENT_USER = "005000000000000AAA"
VOLATILE = re.compile(rb'"(instance|request_id)":"[^"]*",?')


def comparable(response: httpx.Response, record_id: str) -> bytes:
    """The body as sent, without the members that name the request, the id replaced."""
    assert response.headers["content-type"] == "application/problem+json"
    return VOLATILE.sub(b"", response.content).replace(record_id.encode(), b"<id>")


def same_answer(first: httpx.Response, first_id: str, second: httpx.Response, second_id: str) -> None:
    assert first.status_code == second.status_code == 404
    assert comparable(first, first_id) == comparable(second, second_id)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.REP])
def test_an_unknown_rep_is_rep_not_found_for_every_caller(
    client: TestClient, org: Org, role_keys: RoleKeys, role: Role
) -> None:
    keys = role_keys.headers(role)
    absent = client.get(f"/v1/reps/{ABSENT_USER}", headers=keys)
    assert absent.status_code == 404
    body = absent.json()
    assert (body["code"], body["title"], body["type"]) == (
        "rep_not_found",
        "Rep not found",
        "/problems/rep_not_found",
    )
    assert ABSENT_USER in body["detail"]
    assert "GET /v1/reps" in body["detail"]
    # The same answer from the admin, and from a 15-character id.
    admin = client.get(f"/v1/reps/{ABSENT_USER}")
    same_answer(absent, ABSENT_USER, admin, ABSENT_USER)
    same_answer(absent, ABSENT_USER, client.get(f"/v1/reps/{ABSENT_USER[:15]}", headers=keys), ABSENT_USER)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP])
@pytest.mark.parametrize(
    "suffix", ["", "/goals", "/sessions", "/action-items", "/quotas", "/plan", "/scorecard?period=2026-10"]
)
def test_a_rep_out_of_scope_answers_byte_for_byte_what_an_absent_one_does(
    client: TestClient, org: Org, role_keys: RoleKeys, role: Role, suffix: str
) -> None:
    keys = role_keys.headers(role)
    outsider = client.get(f"/v1/reps/{org.rep_b1.id}{suffix}", headers=keys)
    absent = client.get(f"/v1/reps/{ABSENT_USER}{suffix}", headers=keys)
    admin_absent = client.get(f"/v1/reps/{ABSENT_USER}{suffix}")
    assert outsider.json()["code"] == "rep_not_found"
    same_answer(outsider, org.rep_b1.id, absent, ABSENT_USER)
    same_answer(absent, ABSENT_USER, admin_absent, ABSENT_USER)


@pytest.mark.parametrize("suffix", ["", "/scorecards?period=2026-10"])
def test_a_team_of_someone_who_manages_no_one_is_manager_not_found(
    client: TestClient, org: Org, role_keys: RoleKeys, suffix: str
) -> None:
    not_a_manager = client.get(f"/v1/teams/{org.rep_a1.id}{suffix}")
    absent = client.get(f"/v1/teams/{ABSENT_USER}{suffix}")
    assert not_a_manager.json()["code"] == "manager_not_found"
    assert not_a_manager.json()["title"] == "Manager not found"
    same_answer(not_a_manager, org.rep_a1.id, absent, ABSENT_USER)
    # A rep's own id (in their scope, but not a manager) and a manager out of scope answer the same.
    own = client.get(f"/v1/teams/{org.rep_a1.id}{suffix}", headers=role_keys.headers(Role.REP))
    same_answer(own, org.rep_a1.id, absent, ABSENT_USER)
    outsider = client.get(f"/v1/teams/{org.manager_b.id}{suffix}", headers=role_keys.headers(Role.MANAGER))
    same_answer(outsider, org.manager_b.id, absent, ABSENT_USER)
    # A manager's team, a VP's (who manages managers) and a sub-manager's answer.
    for manager in (org.manager_a, org.vp, org.rep_a2):
        assert client.get(f"/v1/teams/{manager.id}{suffix}").status_code == 200, manager.name


def records_of(client: TestClient, org: Org) -> dict[str, str]:
    """A goal, a session and an action item of rep_b1 (team B), made by the admin."""
    session = client.post(
        f"/v1/reps/{org.rep_b1.id}/sessions",
        json={"scheduled_at": "2026-11-10T10:00:00Z", "coach_id": org.manager_b.id},
    )
    item = client.post(f"/v1/sessions/{session.json()['id']}/action-items", json={"description": "Call"})
    goal = client.post(
        f"/v1/reps/{org.rep_b1.id}/goals",
        json={
            "kind": "skill",
            "skill": "discovery",
            "measurement_plan": "rated",
            "period": "2026-11",
            "coach_id": org.manager_b.id,
        },
    )
    assert {session.status_code, item.status_code, goal.status_code} == {201}
    return {"goals": goal.json()["id"], "sessions": session.json()["id"], "action-items": item.json()["id"]}


WRITE_ACCESS = {
    "goals": Access.REP_WRITE,
    "sessions": Access.REP_WRITE,
    "action-items": Access.REP_SELF_WRITE,
}


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP])
def test_a_record_out_of_scope_answers_byte_for_byte_what_an_absent_one_does(
    client: TestClient, org: Org, role_keys: RoleKeys, role: Role
) -> None:
    keys = role_keys.headers(role)
    for kind, record_id in records_of(client, org).items():
        absent_id = str(uuid.uuid4())
        requests = [("GET", "", None)] + ([("GET", "/history", None)] if kind == "goals" else [])
        if role in ALLOWED_ROLES[WRITE_ACCESS[kind]]:  # else 403 for any id, before the id is read
            requests.append(("PATCH", "", {}))
        for method, suffix, body in requests:
            outsider = client.request(method, f"/v1/{kind}/{record_id}{suffix}", json=body, headers=keys)
            absent = client.request(method, f"/v1/{kind}/{absent_id}{suffix}", json=body, headers=keys)
            admin_absent = client.request(method, f"/v1/{kind}/{absent_id}{suffix}", json=body)
            assert outsider.json()["code"] == f"{kind[:-1].replace('-', '_')}_not_found", (kind, method)
            same_answer(outsider, record_id, absent, absent_id)
            same_answer(absent, absent_id, admin_absent, absent_id)


ABSENT = {name: ABSENT_USER for name in ("rep_id", "manager_id", "user_id")} | {"prefix": "sc_live_00000000"}


def path_operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, operation, id parameter) for every path id of every operation."""
    return [
        (method.upper(), path, operation, parameter["name"])
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["name"] in NOT_FOUND
    ]


def test_every_path_id_naming_nothing_answers_its_documented_404(
    app: FastAPI, client: TestClient, path_values: dict[str, str], role_keys: RoleKeys
) -> None:
    """Walks the OpenAPI document: each id, absent, answers its record's code, listed in the
    operation's 404, for an admin and for a manager where the role may call the operation,
    before the body is looked at."""
    openapi = app.openapi()
    wrong = []
    for method, path, operation, name in path_operations(openapi):
        values = {**path_values, name: ABSENT.get(name, str(uuid.uuid4()))}
        url = path.format(**values)
        body = {} if "requestBody" in operation else None
        access = Access(operation["x-access"])
        callers = []
        # An admin-only route's handler reads its ids after the body (one kind of caller, one
        # order); elsewhere the access check reads them first, for every caller.
        if body is None or access is not Access.ADMIN:
            callers.append(("admin", role_keys.headers(Role.ADMIN)))
        if Role.MANAGER in ALLOWED_ROLES[access]:
            callers.append(("manager", role_keys.headers(Role.MANAGER)))
        documented = operation["responses"]["404"][CODES_EXTENSION]
        for caller, keys in callers:
            answer = client.request(method, url, json=body, headers=keys)
            code = answer.json().get("code")
            if answer.status_code != 404 or code != NOT_FOUND[name].code or code not in documented:
                wrong.append(
                    f"{caller} {method} {path} ({name} absent): {answer.status_code} {code}, "
                    f"documented {documented}"
                )
    assert wrong == []
