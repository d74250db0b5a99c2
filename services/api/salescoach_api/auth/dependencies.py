"""Who is calling: `CurrentPrincipal` from the bearer credential, and their `RepScopeDep`.

Both are cached per request by FastAPI, so a route's access check, its handler and its
services all see the same principal and the same scope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from salescoach_api.auth.errors import UnauthorizedError
from salescoach_api.auth.oidc import OidcVerifier, principal_from_claims
from salescoach_api.auth.ratelimit import RateLimiter
from salescoach_api.dependencies import DbSessionDep, SettingsDep
from salescoach_core.access import Principal, RepScope
from salescoach_core.api_keys import authenticate_api_key, looks_like_api_key

bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    description="An API key (`sc_live_...`, from `salescoach apikey create`) or an OIDC access token.",
    auto_error=False,
)


def get_principal(
    request: Request,
    db_session: DbSessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None:
        raise UnauthorizedError(
            "Send `Authorization: Bearer <API key or OIDC access token>`.", token_sent=False
        )
    token = credentials.credentials
    verifier: OidcVerifier | None = request.app.state.oidc_verifier
    if looks_like_api_key(token):
        principal = authenticate_api_key(db_session, token)
        if principal is None:
            raise UnauthorizedError("The API key is unknown or revoked.")
    elif verifier is not None:
        principal = principal_from_claims(db_session, verifier.verify(token), settings)
    else:
        raise UnauthorizedError("The bearer token is not an API key, and OIDC is not configured.")
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_rep_scope(principal: CurrentPrincipal, db_session: DbSessionDep) -> RepScope:
    return RepScope(principal=principal, session=db_session)


RepScopeDep = Annotated[RepScope, Depends(get_rep_scope)]
