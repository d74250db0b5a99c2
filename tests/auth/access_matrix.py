"""The expected answer of every access kind to every role, in its own scope and another team's.

This table is the specification the access-matrix test holds the application to; it is
written out independently of `salescoach_api.auth.policy.ALLOWED_ROLES` on purpose. It also
renders the route x role matrix of docs/auth.md (`render_route_matrix`).
"""

from __future__ import annotations

from typing import Any, Literal

from salescoach_core.roles import Role

ALLOW: Literal["allow"] = "allow"
Expect = Literal["allow", 403, 404]

ROLES = (Role.ADMIN, Role.MANAGER, Role.REP, Role.INTEGRATION)

# access kind -> role -> (own scope, other team's scope)
EXPECTED: dict[str, dict[Role, tuple[Expect, Expect]]] = {
    "admin": {
        Role.ADMIN: (ALLOW, ALLOW),
        Role.MANAGER: (403, 403),
        Role.REP: (403, 403),
        Role.INTEGRATION: (403, 403),
    },
    "authenticated": {role: (ALLOW, ALLOW) for role in ROLES},
    "rep_read": {
        Role.ADMIN: (ALLOW, ALLOW),
        Role.MANAGER: (ALLOW, 404),
        Role.REP: (ALLOW, 404),
        Role.INTEGRATION: (ALLOW, ALLOW),
    },
    # Lists answer everyone; their content is filtered (test_scope.py checks the filter).
    "rep_list": {role: (ALLOW, ALLOW) for role in ROLES},
    "rep_write": {
        Role.ADMIN: (ALLOW, ALLOW),
        Role.MANAGER: (ALLOW, 404),
        Role.REP: (403, 403),
        Role.INTEGRATION: (403, 403),
    },
    "rep_self_write": {
        Role.ADMIN: (ALLOW, ALLOW),
        Role.MANAGER: (ALLOW, 404),
        Role.REP: (ALLOW, 404),
        Role.INTEGRATION: (403, 403),
    },
    "feed": {
        Role.ADMIN: (ALLOW, ALLOW),
        Role.MANAGER: (403, 403),
        Role.REP: (403, 403),
        Role.INTEGRATION: (ALLOW, ALLOW),
    },
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cell(expect: tuple[Expect, Expect], *, scoped: bool) -> str:
    own, other = expect
    if not scoped or own == other:
        return "yes" if own == ALLOW else str(own)
    return f"{'yes' if own == ALLOW else own} / {'yes' if other == ALLOW else other}"


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(METHOD, path, x-access or None) of every operation in the document."""
    return [
        (method.upper(), path, operation.get("x-access"))
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
    ]


def render_route_matrix(openapi: dict[str, Any]) -> str:
    """The markdown table of docs/auth.md: one row per /v1 operation."""
    lines = [
        "| route | access | read/write | admin | manager | rep | integration |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, path, access in sorted(operations(openapi), key=lambda op: (op[1], op[0])):
        if not path.startswith("/v1/"):
            continue
        kind = access or "UNDECLARED"
        scoped = any(f"{{{name}}}" in path for name in ("rep_id", "manager_id", "user_id"))
        cells = [cell(EXPECTED[kind][role], scoped=scoped) if kind in EXPECTED else "?" for role in ROLES]
        action = "write" if method in WRITE_METHODS else "read"
        lines.append(f"| `{method} {path}` | `{kind}` | {action} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
