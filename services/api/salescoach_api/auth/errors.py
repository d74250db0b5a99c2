"""Errors of authentication and authorization; each carries the headers its status calls for."""

from __future__ import annotations

from typing import ClassVar

from salescoach_core.errors import DomainError


class AuthError(DomainError):
    """The errors of authentication and authorization (mapped like every DomainError)."""

    abstract = True


class UnauthorizedError(AuthError):
    """No credentials, or credentials that do not identify anyone (RFC 6750 "invalid_token")."""

    code: ClassVar[str] = "unauthorized"
    status: ClassVar[int] = 401
    title: ClassVar[str] = "Unauthorized"

    def __init__(self, detail: str, *, token_sent: bool = True) -> None:
        # RFC 6750 section 3.1: a request without credentials gets a bare challenge, one
        # with bad credentials gets error="invalid_token".
        challenge = 'Bearer realm="salescoach"'
        if token_sent:
            challenge += ', error="invalid_token"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class TokenExpiredError(UnauthorizedError):
    """Its own code so clients know to refresh the token rather than ask the user again."""

    code: ClassVar[str] = "token_expired"
    title: ClassVar[str] = "Token expired"


class ForbiddenError(AuthError):
    code: ClassVar[str] = "forbidden"
    status: ClassVar[int] = 403
    title: ClassVar[str] = "Forbidden"


class RateLimitedError(AuthError):
    code: ClassVar[str] = "rate_limited"
    status: ClassVar[int] = 429
    title: ClassVar[str] = "Too many requests"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class RateLimitStoreUnavailableError(AuthError):
    """The shared rate limit store (Redis) is down: requests are not let through uncounted."""

    code: ClassVar[str] = "rate_limit_store_unavailable"
    status: ClassVar[int] = 503
    title: ClassVar[str] = "Rate limit store unavailable"


class IdentityProviderUnavailableError(AuthError):
    """The IdP's keys cannot be fetched: our side's problem, not the caller's credentials."""

    code: ClassVar[str] = "identity_provider_unavailable"
    status: ClassVar[int] = 503
    title: ClassVar[str] = "Identity provider unavailable"


class AccessUndeclaredError(AuthError):
    """A route without an access declaration was called: a bug on our side, refused for everyone."""

    code: ClassVar[str] = "access_undeclared"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Route has no access policy"
