"""Access policy: every `/v1` route declares one `Access` kind, and this module enforces it.

A route declares its kind with `dependencies=[requires(Access.X)]` on a router made by
`v1_router()`; a rep-scoped kind also names its rep path parameter (`rep="rep_id"`) or says the
handler checks the row it loads (`by_row=True`). Three things keep a route from forgetting
(docs/auth.md, "Declaring a route's access"):

- `AccessRoute` refuses, at import time, a route of a `v1_router()` without a declaration, or
  whose rep-scoped declaration names no scope or a parameter its path lacks, and publishes the
  kind as `x-access` in the OpenAPI document;
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

from collections.abc import Callable, Collection, Sequence
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
from salescoach_api.path_ids import NOT_FOUND, PEOPLE
from salescoach_api.problems import parameters
from salescoach_core.access import RepScope
from salescoach_core.errors import DomainError
from salescoach_core.roles import Role

log = structlog.get_logger(__name__)

ACCESS_EXTENSION = "x-access"

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
    """Read one rep's records. The path parameter named by `requires(..., rep=...)` is checked
    here (404 outside the scope); with `by_row=True` the handler loads the row and calls
    `require_row_access`."""
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
    """The dependency behind `requires()`: role, then the scope of the declared rep parameter."""

    def __init__(self, access: Access, rep: str | None, by_row: bool) -> None:
        self.access = access
        self.rep = rep
        self.by_row = by_row

    def __call__(self, request: Request, principal: CurrentPrincipal, scope: RepScopeDep) -> None:
        if principal.role not in ALLOWED_ROLES[self.access]:
            raise ForbiddenError(f"The {principal.role.value} role may not do this ({self.access.value}).")
        if self.rep is not None:
            # AccessRoute made sure the path has this parameter, and that it names people.
            names_someone = PEOPLE[self.rep]
            with parameters("path", self.rep):
                require_rep_access(
                    self.access,
                    scope,
                    request.path_params[self.rep],
                    missing=NOT_FOUND[self.rep].of,
                    exists=lambda user_id: names_someone(scope.session, user_id),
                )
        # Last: a replay of an earlier answer is authorized like the request itself.
        admit(request, principal)

    def scope_problem(self, path_params: Collection[str]) -> str | None:
        """Why this declaration cannot be checked on a path with these parameters, or None."""
        if self.access not in REP_SCOPED:
            if self.rep is not None or self.by_row:
                return f"{self.access.value} is not rep-scoped: drop `rep=` / `by_row=`"
            return None
        if (self.rep is None) == (not self.by_row):
            return (
                f'{self.access.value} is rep-scoped: name the rep path parameter (`rep="rep_id"`) '
                "or, for a row addressed by its own id whose handler calls `require_row_access`, "
                "`by_row=True`; exactly one of them"
            )
        if self.rep is not None and self.rep not in path_params:
            return f"`rep={self.rep!r}` is not a parameter of the path"
        if self.rep is not None and self.rep not in PEOPLE:
            return (
                f"`rep={self.rep!r}` names no kind of people: add it to salescoach_api.path_ids.PEOPLE "
                "(who it names) and NOT_FOUND (the 404 an id naming no one answers)"
            )
        return None

    def __repr__(self) -> str:
        scope = f", rep={self.rep!r}" if self.rep else ", by_row=True" if self.by_row else ""
        return f"requires(Access.{self.access.name}{scope})"


def require_rep_access(
    access: Access,
    scope: RepScope,
    rep_id: str,
    *,
    missing: Callable[[str], DomainError],
    exists: Callable[[str], bool] | None = None,
) -> None:
    """The scope check of one rep's records for a route's access: 404 `missing(id)` outside the
    read scope or when `exists` says the id names no one, exactly what an absent record
    answers; for a coaching write, 403 `cannot_coach_self` as well."""
    if access is Access.REP_WRITE:
        scope.require_coach(rep_id, missing=missing, exists=exists)
    else:
        scope.require_rep(rep_id, missing=missing, exists=exists)


def require_row_access(request: Request, scope: RepScope, rep_id: str, *, missing: DomainError) -> None:
    """`require_rep_access` for a row addressed by its own id (a goal, a session, an item), by
    the access the matched route declares; `missing` is the row's own 404."""
    access = access_of(request.scope["route"])
    assert access is not None, "deny_undeclared_access refuses undeclared routes before this"
    require_rep_access(access, scope, rep_id, missing=lambda _rep_id: missing)


def requires(access: Access, *, rep: str | None = None, by_row: bool = False) -> DependsParam:
    """The declaration of a route's access: `dependencies=[requires(Access.ADMIN)]`. A rep-scoped
    kind says which rep it concerns: `requires(Access.REP_READ, rep="rep_id")` checks that path
    parameter before the handler runs; `requires(Access.REP_WRITE, by_row=True)` is for a row
    addressed by its own id, whose handler calls `require_row_access`."""
    declaration: DependsParam = Depends(AccessCheck(access, rep, by_row))
    return declaration


def _access_check(route: BaseRoute) -> AccessCheck | None:
    dependencies: Sequence[DependsParam] = getattr(route, "dependencies", ())
    declared = [dep.dependency for dep in dependencies if isinstance(dep.dependency, AccessCheck)]
    return declared[0] if len(declared) == 1 else None


def access_of(route: BaseRoute) -> Access | None:
    """The access a route declares, or None."""
    check = _access_check(route)
    return check.access if check else None


class UndeclaredAccessError(TypeError):
    """A route of a `v1_router()` without exactly one `requires(...)`, or whose rep-scoped
    declaration cannot be checked on its path."""


class AccessRoute(APIRoute):
    """A route that must declare its access, and shows it in OpenAPI as `x-access`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        check = _access_check(self)
        if check is None:
            raise UndeclaredAccessError(
                f"{sorted(self.methods or ())} {path}: declare who may call it with exactly one "
                "`dependencies=[requires(Access.<KIND>)]` (see docs/auth.md)."
            )
        problem = check.scope_problem(self.param_convertors)
        if problem is not None:
            raise UndeclaredAccessError(f"{sorted(self.methods or ())} {path}: {problem} (see docs/auth.md).")
        self.openapi_extra = {**(self.openapi_extra or {}), ACCESS_EXTENSION: check.access.value}


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
