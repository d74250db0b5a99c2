"""CORS for browser clients: the one list of headers a page may send and read, and refusals as problems."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from salescoach_api.problems import problem_response

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "If-Match",
    "X-Request-ID",
)
"""Every request header the API documents; a preflight asking for any other is refused."""
EXPOSED_HEADERS = (
    "ETag",
    "Idempotent-Replayed",
    "Content-Disposition",
    "Retry-After",
    "X-Request-ID",
    "WWW-Authenticate",
)
"""Response headers a script must read (browsers hide all but a safelisted few otherwise)."""
MAX_AGE_SECONDS = 600


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, except that a refused preflight says why in a problem body with a code,
    rather than a bare 400 `Disallowed CORS headers` a developer cannot act on."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                refusal = self._refusal(Request(scope), headers)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def _refusal(self, request: Request, headers: Headers) -> Response | None:
        origin = headers["origin"]
        if not self.is_allowed_origin(origin):
            allowed = ", ".join(self.allow_origins) or "none"
            return problem_response(
                request,
                status=403,
                code="cors_origin_not_allowed",
                detail=f"Origin {origin} may not call this API from a browser (allowed: {allowed}). "
                "Add it to SALESCOACH_CORS_ORIGINS.",
            )
        method = headers["access-control-request-method"]
        if method not in self.allow_methods:
            return problem_response(
                request,
                status=400,
                code="cors_method_not_allowed",
                detail=f"Method {method} is not allowed; use one of: {', '.join(self.allow_methods)}.",
            )
        requested = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")]
        refused = [h for h in requested if h and h not in self.allow_headers]
        if refused:
            return problem_response(
                request,
                status=400,
                code="cors_header_not_allowed",
                detail=f"Request headers not allowed: {', '.join(refused)}. "
                f"Send only: {', '.join(REQUEST_HEADERS)}.",
            )
        return None

    def headers_for(self, request_headers: Headers) -> Mapping[str, str]:
        """The CORS headers an ordinary response to this request carries."""
        origin = request_headers.get("origin")
        if origin is None or not self.is_allowed_origin(origin):
            return {}
        return {**self.simple_headers, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _policy(app: ASGIApp, origins: list[str]) -> ProblemCORSMiddleware:
    return ProblemCORSMiddleware(
        app,
        allow_origins=origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=REQUEST_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        # Bearer credentials travel in a header, not cookies: no need to allow credentials.
        allow_credentials=False,
        max_age=MAX_AGE_SECONDS,
    )


def install_cors(app: FastAPI, origins: list[str]) -> None:
    """Installed even with no origins, so a preflight is refused with a problem that names the setting."""
    app.add_middleware(_policy, origins=origins)
    # Starlette answers an unhandled exception outside every middleware, CORS included: the
    # server-error handler adds these headers itself so that a browser can read that 500.
    app.state.cors = _policy(_headers_only, origins)


async def _headers_only(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the CORS policy on app.state only computes headers")
