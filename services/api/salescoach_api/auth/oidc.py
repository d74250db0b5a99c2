"""OIDC access tokens: verified against the identity provider's JWKS, mapped to a principal.

PyJWT does the JOSE work: `PyJWKClient` fetches the JWKS, caches it, and refetches once when
a token names an unknown `kid` (key rotation), no more often than the configured cooldown.
This module adds what is ours: discovery of the JWKS URL, an algorithm allow-list checked
before any key is fetched, and the mapping of claims to a role and a Salesforce user.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import jwt
import structlog
from sqlalchemy import func, select
from sqlmodel import Session, col

from salescoach_api.auth.errors import (
    ForbiddenError,
    IdentityProviderUnavailableError,
    TokenExpiredError,
    UnauthorizedError,
)
from salescoach_core.access import Principal
from salescoach_core.models import SfUser
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from salescoach_core.sfids import is_valid_id, to18

log = structlog.get_logger(__name__)

# When a token carries several roles, the one that grants the most wins.
ROLE_PRECEDENCE = (Role.ADMIN, Role.MANAGER, Role.INTEGRATION, Role.REP)
DISCOVERY_PATH = "/.well-known/openid-configuration"
HTTP_TIMEOUT_SECONDS = 10.0


class OidcVerifier:
    """Verifies tokens of one issuer. One per application; safe to share across threads."""

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise ValueError("OIDC needs SALESCOACH_OIDC_ISSUER and SALESCOACH_OIDC_AUDIENCE")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = list(settings.oidc_algorithms)
        self.leeway = settings.oidc_leeway_seconds
        self._settings = settings
        self._jwks_url = settings.oidc_jwks_url
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, once signature, issuer, audience, exp and nbf all check out."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise UnauthorizedError("The bearer token is neither an API key nor a well-formed JWT.") from exc
        algorithm = header.get("alg")
        # Checked before any key lookup: a token must not make us fetch keys for an
        # algorithm we would refuse anyway (alg=none, HS256 with the public key as secret).
        if algorithm not in self.algorithms:
            raise UnauthorizedError(
                f"Token algorithm {algorithm!r} is not accepted; use one of {self.algorithms}."
            )
        try:
            signing_key = self._jwk_client().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            log.error("oidc_jwks_unreachable", error=str(exc))
            raise IdentityProviderUnavailableError(
                "The identity provider's signing keys cannot be fetched; try again shortly."
            ) from exc
        except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
            raise UnauthorizedError("The token is not signed by a key of the identity provider.") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpiredError(
                "The token has expired; get a new one from the identity provider."
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise UnauthorizedError("The token was issued for another audience.") from exc
        except jwt.InvalidIssuerError as exc:
            raise UnauthorizedError("The token was issued by another issuer.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise UnauthorizedError("The token is not valid yet (nbf or iat in the future).") from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthorizedError(f"The token is invalid: {exc}.") from exc
        return claims

    def _jwk_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                self._client = jwt.PyJWKClient(
                    self._jwks_url or self._discover_jwks_url(),
                    cache_jwk_set=True,
                    lifespan=self._settings.oidc_jwks_cache_seconds,
                    timeout=HTTP_TIMEOUT_SECONDS,
                    cooldown_duration=self._settings.oidc_jwks_refresh_cooldown_seconds,
                )
            return self._client

    def _discover_jwks_url(self) -> str:
        url = self.issuer.rstrip("/") + DISCOVERY_PATH
        try:
            response = httpx.get(url, timeout=HTTP_TIMEOUT_SECONDS)
            response.raise_for_status()
            jwks_uri = response.json()["jwks_uri"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.error("oidc_discovery_failed", url=url, error=str(exc))
            raise IdentityProviderUnavailableError(
                "The identity provider's configuration cannot be read; set SALESCOACH_OIDC_JWKS_URL "
                "or check SALESCOACH_OIDC_ISSUER."
            ) from exc
        if not isinstance(jwks_uri, str):
            raise IdentityProviderUnavailableError("The identity provider's configuration has no jwks_uri.")
        self._jwks_url = jwks_uri
        return jwks_uri


def claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by exact name (Auth0's namespaced URLs contain dots), else by dotted path
    (Keycloak's `realm_access.roles`)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def role_from_claims(claims: dict[str, Any], settings: Settings) -> Role | None:
    raw = claim(claims, settings.oidc_role_claim)
    if isinstance(raw, str):
        values = [raw]
    elif isinstance(raw, list):
        values = [value for value in raw if isinstance(value, str)]
    else:
        values = []
    granted: set[Role] = set()
    for value in values:
        if settings.oidc_role_map:
            if value in settings.oidc_role_map:
                granted.add(settings.oidc_role_map[value])
        elif value in Role.__members__.values():
            granted.add(Role(value))
    return next((role for role in ROLE_PRECEDENCE if role in granted), None)


def sf_user_id_from_claims(session: Session, claims: dict[str, Any], settings: Settings) -> str | None:
    """The Salesforce User Id: from its own claim when configured, else by e-mail address.

    An e-mail address is used only when the IdP vouches for it with `email_verified` the JSON
    boolean true (not "true" or 1, which a misconfigured mapper or a user-editable attribute may
    send), and only when it names exactly one active synced user: an ambiguous address maps to
    no one.
    """
    if settings.oidc_sf_user_id_claim:
        value = claim(claims, settings.oidc_sf_user_id_claim)
        if isinstance(value, str) and is_valid_id(value):
            return to18(value)
    email = claim(claims, settings.oidc_email_claim)
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        return None
    matches = session.scalars(
        select(col(SfUser.id))
        .where(func.lower(col(SfUser.email)) == email.lower(), col(SfUser.is_active).is_(True))
        .limit(2)
    ).all()
    return matches[0] if len(matches) == 1 else None


def principal_from_claims(session: Session, claims: dict[str, Any], settings: Settings) -> Principal:
    role = role_from_claims(claims, settings)
    if role is None:
        raise ForbiddenError(
            f"The token grants no salescoach role (claim {settings.oidc_role_claim!r}); "
            "ask an administrator to map your IdP group to one."
        )
    sf_user_id = sf_user_id_from_claims(session, claims, settings)
    if role.needs_sf_user and sf_user_id is None:
        raise ForbiddenError(
            f"A {role.value} needs a Salesforce user and the token maps to none; the IdP must send "
            "the user's Salesforce User Id or the e-mail address of exactly one active user."
        )
    subject = str(claims["sub"])
    name = claims.get("name") or claims.get(settings.oidc_email_claim) or subject
    return Principal(kind="oidc", subject=subject, name=str(name), role=role, sf_user_id=sf_user_id)
