"""Wire authentication into the application: verifier, rate limiter, CORS, routes."""

from __future__ import annotations

from fastapi import FastAPI

from salescoach_api.auth.oidc import OidcVerifier
from salescoach_api.auth.ratelimit import rate_limiter
from salescoach_api.auth.router import router
from salescoach_api.cors import install_cors
from salescoach_core.settings import Settings


def install_auth(app: FastAPI, settings: Settings) -> None:
    app.state.oidc_verifier = OidcVerifier(settings) if settings.oidc_issuer else None
    # app.state.database is the request database create_app set up before installing auth.
    app.state.rate_limiter = rate_limiter(settings, app.state.database)
    install_cors(app, settings.cors_origins)
    app.include_router(router)
