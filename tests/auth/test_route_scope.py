"""A rep-scoped route names the path parameter its scope check reads, or declares that its
handler checks the row it loads; a declaration that cannot be checked fails at import."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from salescoach_api.auth.policy import Access, UndeclaredAccessError, requires, v1_router
from salescoach_core.roles import Role
from tests.plugins.auth import Org, RoleKeys


def _ok() -> dict[str, str]:
    return {"status": "ok"}


@pytest.mark.parametrize("access", [Access.REP_READ, Access.REP_WRITE, Access.REP_SELF_WRITE])
def test_a_rep_scoped_route_declaring_no_scope_fails_at_import(access: Access) -> None:
    router = v1_router(prefix="/v1/probe")
    with pytest.raises(UndeclaredAccessError, match="rep="):
        router.add_api_route("/reps/{rep_id}", _ok, methods=["GET"], dependencies=[requires(access)])


def test_a_scope_parameter_missing_from_the_path_fails_at_import() -> None:
    router = v1_router(prefix="/v1/probe")
    with pytest.raises(UndeclaredAccessError, match="owner_id"):
        router.add_api_route(
            "/owners/{rep_id}", _ok, methods=["GET"], dependencies=[requires(Access.REP_READ, rep="owner_id")]
        )


def test_a_scope_parameter_naming_no_record_kind_fails_at_import() -> None:
    router = v1_router(prefix="/v1/probe")
    with pytest.raises(UndeclaredAccessError, match=r"path_ids\.PEOPLE"):
        router.add_api_route(
            "/owners/{owner_id}",
            _ok,
            methods=["GET"],
            dependencies=[requires(Access.REP_READ, rep="owner_id")],
        )


def test_a_scope_on_a_route_that_is_not_rep_scoped_fails_at_import() -> None:
    router = v1_router(prefix="/v1/probe")
    with pytest.raises(UndeclaredAccessError):
        router.add_api_route(
            "/keys/{rep_id}", _ok, methods=["GET"], dependencies=[requires(Access.ADMIN, rep="rep_id")]
        )
    with pytest.raises(UndeclaredAccessError):
        router.add_api_route(
            "/both/{rep_id}",
            _ok,
            methods=["GET"],
            dependencies=[requires(Access.REP_READ, rep="rep_id", by_row=True)],
        )


@pytest.fixture
def owners_client(app: FastAPI) -> Iterator[TestClient]:
    router = v1_router(prefix="/v1/probe")
    router.add_api_route(
        "/teams/{manager_id}",
        _ok,
        methods=["GET"],
        dependencies=[requires(Access.REP_READ, rep="manager_id")],
    )
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_rep_parameter_named_otherwise_is_scope_checked_and_answers_its_own_404(
    owners_client: TestClient, org: Org, role_keys: RoleKeys
) -> None:
    manager = role_keys.headers(Role.MANAGER)  # acting for manager_a
    for own in (org.manager_a.id, org.rep_a2.id):  # rep_a2 manages rep_a3
        assert owners_client.get(f"/v1/probe/teams/{own}", headers=manager).status_code == 200
    # Out of scope, or in scope and managing no one: the same 404.
    for refused_id in (org.manager_b.id, org.vp.id, org.rep_b1.id, org.rep_a1.id):
        refused = owners_client.get(f"/v1/probe/teams/{refused_id}", headers=manager)
        assert (refused.status_code, refused.json()["code"]) == (404, "manager_not_found"), refused_id
