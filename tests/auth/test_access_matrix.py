"""Every operation of the OpenAPI document, called by every role in its own scope and in the other
team's, answers as its declared access kind says (tests/auth/access_matrix.py).

A route without a declaration fails here; so does a route whose path parameters this test
cannot fill (add a value to PATH_PARAMETERS below).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_api.auth.policy import (
    PUBLIC_PATHS,
    Access,
    UndeclaredAccessError,
    requires,
    undeclared_operations,
    v1_router,
)
from salescoach_core.api_keys import create_api_key
from salescoach_core.coaching import action_items
from salescoach_core.coaching import sessions as coaching_sessions
from salescoach_core.integrations import events, webhooks
from salescoach_core.keyset import Keyset
from salescoach_core.models import ActionItem, CoachingGoal, CoachingSession, SfUser
from salescoach_core.models.integrations import WebhookDelivery, WebhookEndpoint
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.auth.access_matrix import ALLOW, EXPECTED, ROLES, Expect, operations, render_route_matrix
from tests.plugins.auth import Org, RoleKeys
from tests.plugins.factories import Factory

DOCS = Path(__file__).resolve().parents[2] / "docs"
MATRIX_NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)

# Built once at collection, without a database (the app connects lazily), to list the routes.
OPENAPI = create_app(Settings()).openapi()
V1_OPERATIONS = [(method, path) for method, path, _ in operations(OPENAPI) if path not in PUBLIC_PATHS]


@dataclass
class Scene:
    """What path parameters are filled from. A resource owned by a rep (a goal, a session) is
    created with `session` in the PATH_PARAMETERS entry: for `org.rep_a1` when `own`, for
    `org.rep_b1` otherwise."""

    org: Org
    spare_key_prefix: str
    session: Session

    def own_manager(self, role: Role) -> str:
        return self.org.rep_a1.id if role is Role.REP else self.org.manager_a.id


PathValue = Callable[[Scene, Role, bool], str]
PATH_PARAMETERS: dict[str, PathValue] = {
    # rep_a1 is the rep key's own user and in the manager key's team; rep_b1 is in neither.
    "rep_id": lambda scene, role, own: scene.org.rep_a1.id if own else scene.org.rep_b1.id,
    "manager_id": lambda scene, role, own: scene.own_manager(role) if own else scene.org.manager_b.id,
    "user_id": lambda scene, role, own: scene.own_manager(role) if own else scene.org.manager_b.id,
    "prefix": lambda scene, role, own: scene.spare_key_prefix,
    "month": lambda scene, role, own: "2026-10",
    "goal_id": lambda scene, role, own: str(_goal(scene, own).id),
    "session_id": lambda scene, role, own: str(_coaching_session(scene, own).id),
    "item_id": lambda scene, role, own: str(_action_item(scene, own).id),
    "webhook_id": lambda scene, role, own: str(_webhook(scene).id),
    "delivery_id": lambda scene, role, own: str(_delivery(scene).id),
}


def _owner(scene: Scene, own: bool) -> SfUser:
    return scene.org.rep_a1 if own else scene.org.rep_b1


def _goal(scene: Scene, own: bool) -> CoachingGoal:
    # Inserted directly: the per-period goal limit would refuse the many goals this test needs.
    goal_id = uuid.uuid4()
    goal = CoachingGoal(
        id=goal_id,
        rep_id=_owner(scene, own).id,
        period_label="2026-10",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 11, 1),
        kind="skill",
        skill="discovery",
        measurement_plan="ride-alongs",
        status="active",
        created_at=MATRIX_NOW,
        updated_at=MATRIX_NOW,
        external_id=f"goal-{goal_id}",
        writeback_status="not_mirrored",
    )
    scene.session.add(goal)
    scene.session.flush()
    return goal


def _coaching_session(scene: Scene, own: bool) -> CoachingSession:
    rep = _owner(scene, own)
    return coaching_sessions.create_session(
        scene.session,
        rep=rep,
        mode="consequence",
        coach_id=rep.manager_id,
        fields={
            "scheduled_at": MATRIX_NOW,
            "standard_metric": "calls",
            "standard_threshold": Decimal(50),
            "deadline": date(2026, 12, 1),
            "consequence": "performance plan",
        },
        now=MATRIX_NOW,
    )


_WEBHOOKS: dict[int, WebhookEndpoint] = {}


def _webhook(scene: Scene) -> WebhookEndpoint:
    # Kept for `_delivery`, which fills {delivery_id} next and needs a delivery of this endpoint.
    endpoint = webhooks.create_endpoint(
        scene.session,
        url="https://example.com/hook",
        event_types=[],
        secret=None,
        description=None,
        allow_private_targets=False,
        now=MATRIX_NOW,
    )
    _WEBHOOKS[id(scene.session)] = endpoint
    return endpoint


def _delivery(scene: Scene) -> WebhookDelivery:
    endpoint = _WEBHOOKS[id(scene.session)]
    events.emit(scene.session, "goal.created", {}, now=MATRIX_NOW)
    by_id = Keyset(column=WebhookDelivery.id, id_column=WebhookDelivery.id, limit=2)
    [delivery] = webhooks.list_deliveries(scene.session, endpoint=endpoint, keyset=by_id)
    return delivery


def _action_item(scene: Scene, own: bool) -> ActionItem:
    return action_items.create_action_item(
        scene.session,
        row=_coaching_session(scene, own),
        owner="rep",
        description="follow up",
        due_date=date(2026, 11, 20),
        opportunity_id=None,
        now=MATRIX_NOW,
    )


def fill_path(path: str, scene: Scene, role: Role, *, own: bool) -> str:
    for name, value in PATH_PARAMETERS.items():
        path = path.replace("{" + name + "}", value(scene, role, own))
    assert "{" not in path, f"{path}: add a value for this path parameter to PATH_PARAMETERS in {__file__}"
    return path


def call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    return client.request(method, url, headers=headers, json=body)


def matches(expect: Expect, status: int) -> bool:
    if expect == ALLOW:
        # Through authorization: whatever the handler then says about the (empty) input.
        return status not in (401, 403, 404) and status < 500
    return status == expect


@pytest.fixture
def anonymous_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def scene(org: Org, db_session: Session, factory: Factory) -> Scene:
    # The rep key's own user coaches a trainee, so a team in its own scope exists: a rep who
    # manages no one has no team (404 `manager_not_found`, whoever asks).
    factory.user("Tia Trainee", manager=org.rep_a1)
    spare = create_api_key(db_session, name="spare", role=Role.INTEGRATION, sf_user_id=None)
    return Scene(org=org, spare_key_prefix=spare.row.prefix, session=db_session)


def check_matrix(
    client: TestClient, openapi: dict[str, Any], method: str, path: str, scene: Scene, keys: RoleKeys
) -> list[str]:
    """Every mismatch between the table and the answers of one operation, as readable lines."""
    access = openapi["paths"][path][method.lower()].get("x-access")
    if access is None:
        return [f"{method} {path} declares no access: add dependencies=[requires(Access.<KIND>)]"]
    failures = []
    anonymous = call(client, method, fill_path(path, scene, Role.ADMIN, own=True), headers={})
    if anonymous.status_code != 401 or not anonymous.headers.get("www-authenticate", "").startswith("Bearer"):
        failures.append(f"no credentials: expected 401 with WWW-Authenticate, got {anonymous.status_code}")
    for role in ROLES:
        for own in (True, False):
            expect = EXPECTED[access][role][0 if own else 1]
            response = call(client, method, fill_path(path, scene, role, own=own), keys.headers(role))
            if not matches(expect, response.status_code):
                scope = "own scope" if own else "other team"
                got = f"{response.status_code} {response.text[:200]}"
                failures.append(f"{role.value}, {scope}: expected {expect}, got {got}")
    return failures


@pytest.mark.parametrize(("method", "path"), V1_OPERATIONS, ids=[f"{m} {p}" for m, p in V1_OPERATIONS])
def test_operation_answers_every_role_as_its_access_kind_says(
    anonymous_client: TestClient, scene: Scene, role_keys: RoleKeys, method: str, path: str
) -> None:
    failures = check_matrix(anonymous_client, OPENAPI, method, path, scene, role_keys)
    assert failures == [], f"{method} {path}:\n  " + "\n  ".join(failures)


def probe_router() -> Any:
    """One route per access kind, so every row of the table is exercised even before the
    product has a route of that kind."""
    router = v1_router(prefix="/v1/probe", tags=["probe"])
    for access in Access:
        if access is Access.REP_LIST:
            router.add_api_route(f"/{access.value}", _ok, methods=["GET"], dependencies=[requires(access)])
        elif access is Access.REP_READ:
            router.add_api_route(
                f"/{access.value}/{{rep_id}}",
                _ok,
                methods=["GET"],
                dependencies=[requires(access, rep="rep_id")],
            )
        elif access in (Access.REP_WRITE, Access.REP_SELF_WRITE):
            router.add_api_route(
                f"/{access.value}/{{rep_id}}",
                _ok,
                methods=["POST"],
                dependencies=[requires(access, rep="rep_id")],
            )
        else:
            router.add_api_route(f"/{access.value}", _ok, methods=["GET"], dependencies=[requires(access)])
    return router


def _ok() -> dict[str, str]:
    return {"status": "ok"}


def test_every_access_kind_answers_every_role_as_tabulated(
    app: FastAPI, anonymous_client: TestClient, scene: Scene, role_keys: RoleKeys
) -> None:
    app.include_router(probe_router())
    openapi = app.openapi()
    probes = [(m, p) for m, p, _ in operations(openapi) if p.startswith("/v1/probe/")]
    assert len(probes) == len(Access)
    failures = [
        f"{method} {path}: {line}"
        for method, path in probes
        for line in check_matrix(anonymous_client, openapi, method, path, scene, role_keys)
    ]
    assert failures == []


def test_a_manager_reaches_reps_deep_in_their_org_but_not_their_own_manager(
    app: FastAPI, anonymous_client: TestClient, org: Org, role_keys: RoleKeys
) -> None:
    app.include_router(probe_router())
    manager = role_keys.headers(Role.MANAGER)
    for rep in (org.rep_a2, org.rep_a3, org.manager_a):
        assert anonymous_client.get(f"/v1/probe/rep_read/{rep.id}", headers=manager).status_code == 200
    for outsider in (org.vp.id, org.manager_b.id, org.rep_b1.id, "005000000000000AAA"):
        assert anonymous_client.get(f"/v1/probe/rep_read/{outsider}", headers=manager).status_code == 404


def test_out_of_scope_and_missing_reps_get_the_same_answer(
    app: FastAPI, anonymous_client: TestClient, org: Org, role_keys: RoleKeys
) -> None:
    app.include_router(probe_router())
    rep = role_keys.headers(Role.REP)
    other = anonymous_client.get(f"/v1/probe/rep_read/{org.rep_b1.id}", headers=rep).json()
    missing = anonymous_client.get("/v1/probe/rep_read/005000000000000AAA", headers=rep).json()
    for body in (other, missing):
        del body["instance"], body["request_id"]
    assert other["code"] == "rep_not_found"
    assert other.keys() == missing.keys()
    assert other["detail"].replace(org.rep_b1.id, "X") == missing["detail"].replace("005000000000000AAA", "X")


def test_every_route_of_the_application_declares_its_access() -> None:
    assert undeclared_operations(OPENAPI) == []


def test_an_undeclared_route_fails_the_check_and_serves_no_one(
    app: FastAPI, anonymous_client: TestClient, scene: Scene, role_keys: RoleKeys
) -> None:
    @app.get("/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "data"}

    openapi = app.openapi()
    assert undeclared_operations(openapi) == ["GET /v1/forgotten"]
    failures = check_matrix(anonymous_client, openapi, "GET", "/v1/forgotten", scene, role_keys)
    assert failures == ["GET /v1/forgotten declares no access: add dependencies=[requires(Access.<KIND>)]"]
    response = anonymous_client.get("/v1/forgotten", headers=role_keys.headers(Role.ADMIN))
    assert response.status_code == 500
    assert response.json()["code"] == "access_undeclared"
    assert "secret" not in response.text


def test_a_v1_router_refuses_a_route_without_a_declaration() -> None:
    router = v1_router(prefix="/v1/things")
    with pytest.raises(UndeclaredAccessError, match="declare who may call it"):

        @router.get("/")
        def things() -> list[str]:
            return []


def test_public_routes_answer_without_credentials(anonymous_client: TestClient) -> None:
    for path in ("/healthz", "/openapi.json", "/docs", "/metrics"):
        assert anonymous_client.get(path).status_code == 200, path


def test_docs_route_matrix_is_in_step_with_the_routes() -> None:
    table = render_route_matrix(OPENAPI)
    assert table in (DOCS / "auth.md").read_text(), (
        "docs/auth.md's route x role matrix is out of date; replace it with:\n\n" + table
    )
