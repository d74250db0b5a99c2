"""Wire authentication into the application: verifier, rate limiter, CORS, routes."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from salescoach_api.auth.oidc import OidcVerifier
from salescoach_api.auth.ratelimit import RateLimiter
from salescoach_api.auth.router import router
from salescoach_core.settings import Settings


def install_auth(app: FastAPI, settings: Settings) -> None:
    app.state.oidc_verifier = OidcVerifier(settings) if settings.oidc_issuer else None
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "WWW-Authenticate"],
            # Bearer credentials travel in a header, not cookies: no need to allow credentials.
            allow_credentials=False,
            max_age=600,
        )
    app.include_router(router)
