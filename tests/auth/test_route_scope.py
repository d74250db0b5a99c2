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
        "/owners/{owner_id}", _ok, methods=["GET"], dependencies=[requires(Access.REP_READ, rep="owner_id")]
    )
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_rep_parameter_named_otherwise_is_scope_checked(
    owners_client: TestClient, org: Org, role_keys: RoleKeys
) -> None:
    rep = role_keys.headers(Role.REP)  # acting for rep_a1
    assert owners_client.get(f"/v1/probe/owners/{org.rep_a1.id}", headers=rep).status_code == 200
    for outsider in (org.rep_a2.id, org.manager_a.id, org.rep_b1.id):
        refused = owners_client.get(f"/v1/probe/owners/{outsider}", headers=rep)
        assert (refused.status_code, refused.json()["code"]) == (404, "not_found"), outsider
