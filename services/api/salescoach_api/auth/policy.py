"""Access policy: every `/v1` route declares one `Access` kind, and this module enforces it.

A route declares its kind with `dependencies=[requires(Access.X)]` on a router made by
`v1_router()`. Three things keep a route from forgetting (docs/auth.md, "Declaring a route's
access"):

- `AccessRoute` refuses, at import time, a route of a `v1_router()` without a declaration, and
  publishes the kind as `x-access` in the OpenAPI document;
- `deny_undeclared_access`, an application-wide dependency, answers 500 `access_undeclared`
  for any route that has no declaration and is not on the public allow-list, so a route built
  some other way fails closed;
- tests/auth/test_access_matrix.py walks every operation of the OpenAPI document and checks
  each role against its kind.

Order of checks: credentials (401), then role (403: the same answer for any id, so it leaks
nothing), then rep scope (404, exactly what a missing rep gives), then, for coaching writes,
whether the caller may coach that rep (403 `cannot_coach_self` on a manager's own records), and
only then an `Idempotency-Key` replay (salescoach_api.idempotency.admit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from salescoach_api.auth.dependencies import CurrentPrincipal, RepScopeDep
from salescoach_api.auth.errors import AccessUndeclaredError, ForbiddenError
from salescoach_api.idempotency import admit
from salescoach_core.access import RepScope
from salescoach_core.errors import DomainError
from salescoach_core.roles import Role

log = structlog.get_logger(__name__)

ACCESS_EXTENSION = "x-access"
# Path parameters naming a Salesforce user whose visibility the scope decides (a manager_id
# names a rep too: managers are users of the same org).
USER_ID_PARAMS = ("rep_id", "manager_id")

PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
"""Routes anyone may call without credentials; every other route must declare an Access."""


class Access(StrEnum):
    """What a route does with whose data. Who may call each kind is `ALLOWED_ROLES`."""

    ADMIN = "admin"
    """Administration (API keys): admins only."""
    AUTHENTICATED = "authenticated"
    """Any caller; no rep-owned data (e.g. /v1/me, reference data)."""
    REP_READ = "rep_read"
    """Read one rep's records. A `{rep_id}` or `{manager_id}` path parameter is checked here
    (404 outside the scope); for other ids the handler loads the row and calls
    `scope.require_rep(row.rep_id)`."""
    REP_LIST = "rep_list"
    """A list across reps: every role may call it; the handler filters with
    `scope.visible_rep_ids_clause(column)`."""
    REP_WRITE = "rep_write"
    """Coaching writes (goals, sessions): admins, and managers on the people below them (not on
    their own records: 403 `cannot_coach_self`)."""
    REP_SELF_WRITE = "rep_self_write"
    """Writes a rep makes on their own records (acknowledge, complete an action item):
    admins, managers within their org, the rep themselves (a manager on their own records acts
    as the rep)."""
    FEED = "feed"
    """Event and export feeds for BI: admins and integrations."""


ALL_ROLES = frozenset(Role)
ALLOWED_ROLES: dict[Access, frozenset[Role]] = {
    Access.ADMIN: frozenset({Role.ADMIN}),
    Access.AUTHENTICATED: ALL_ROLES,
    Access.REP_READ: ALL_ROLES,
    Access.REP_LIST: ALL_ROLES,
    Access.REP_WRITE: frozenset({Role.ADMIN, Role.MANAGER}),
    Access.REP_SELF_WRITE: frozenset({Role.ADMIN, Role.MANAGER, Role.REP}),
    Access.FEED: frozenset({Role.ADMIN, Role.INTEGRATION}),
}
REP_SCOPED = frozenset({Access.REP_READ, Access.REP_WRITE, Access.REP_SELF_WRITE})


class AccessCheck:
    """The dependency behind `requires()`: role, then the scope of `{rep_id}` / `{manager_id}`."""

    def __init__(self, access: Access) -> None:
        self.access = access

    def __call__(self, request: Request, principal: CurrentPrincipal, scope: RepScopeDep) -> None:
        if principal.role not in ALLOWED_ROLES[self.access]:
            raise ForbiddenError(f"The {principal.role.value} role may not do this ({self.access.value}).")
        if self.access in REP_SCOPED:
            for name in USER_ID_PARAMS:
                user_id = request.path_params.get(name)
                if isinstance(user_id, str):
                    require_rep_access(self.access, scope, user_id)
        # Last: a replay of an earlier answer is authorized like the request itself.
        admit(request, principal)

    def __repr__(self) -> str:
        return f"requires(Access.{self.access.name})"


def require_rep_access(
    access: Access, scope: RepScope, rep_id: str, *, missing: DomainError | None = None
) -> None:
    """The scope check of one rep's records for a route's access: 404 (`missing`, else a missing
    rep's) outside the read scope; for a coaching write, 403 `cannot_coach_self` as well."""
    if access is Access.REP_WRITE:
        scope.require_coach(rep_id, missing=missing)
    else:
        scope.require_rep(rep_id, missing=missing)


def require_row_access(request: Request, scope: RepScope, rep_id: str, *, missing: DomainError) -> None:
    """`require_rep_access` for a row addressed by its own id (a goal, a session, an item), by
    the access the matched route declares; `missing` is the row's own 404."""
    access = access_of(request.scope["route"])
    assert access is not None, "deny_undeclared_access refuses undeclared routes before this"
    require_rep_access(access, scope, rep_id, missing=missing)


def requires(access: Access) -> DependsParam:
    """The declaration of a route's access: `dependencies=[requires(Access.REP_READ)]`."""
    declaration: DependsParam = Depends(AccessCheck(access))
    return declaration


def access_of(route: BaseRoute) -> Access | None:
    """The access a route declares, or None."""
    dependencies: Sequence[DependsParam] = getattr(route, "dependencies", ())
    declared = [dep.dependency.access for dep in dependencies if isinstance(dep.dependency, AccessCheck)]
    return declared[0] if len(declared) == 1 else None


class UndeclaredAccessError(TypeError):
    """A route of a `v1_router()` without exactly one `requires(...)`."""


class AccessRoute(APIRoute):
    """A route that must declare its access, and shows it in OpenAPI as `x-access`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        access = access_of(self)
        if access is None:
            raise UndeclaredAccessError(
                f"{sorted(self.methods or ())} {path}: declare who may call it with exactly one "
                "`dependencies=[requires(Access.<KIND>)]` (see docs/auth.md)."
            )
        self.openapi_extra = {**(self.openapi_extra or {}), ACCESS_EXTENSION: access.value}


def v1_router(*, route_class: type[AccessRoute] = AccessRoute, **kwargs: Any) -> APIRouter:
    """An APIRouter whose every route must declare its access. Use it for every `/v1` router;
    `route_class` adds behaviour to the access check (e.g. `etags.ETagRoute`), never removes it."""
    return APIRouter(route_class=route_class, **kwargs)


def deny_undeclared_access(request: Request) -> None:
    """Application-wide: a non-public route without a declaration answers 500, never data."""
    route = request.scope.get("route")
    if route is None or access_of(route) is not None:
        return
    path = getattr(route, "path", request.url.path)
    if path in PUBLIC_PATHS:
        return
    log.error("route_without_access_policy", path=path)
    raise AccessUndeclaredError(
        "This route declares no access policy, so it serves no one; it has been logged."
    )


def undeclared_operations(openapi: dict[str, Any]) -> list[str]:
    """`METHOD path` of every operation of an OpenAPI document that is neither public nor
    marked with `x-access` (for tests and tools)."""
    return [
        f"{method.upper()} {path}"
        for path, operations in openapi.get("paths", {}).items()
        if path not in PUBLIC_PATHS
        for method, operation in operations.items()
        if isinstance(operation, dict) and ACCESS_EXTENSION not in operation
    ]
