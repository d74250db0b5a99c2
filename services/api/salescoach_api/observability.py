"""Request ids, access logs and Prometheus metrics for the API."""

from __future__ import annotations

import time

import structlog
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"

access_log = structlog.get_logger("salescoach_api.access")


class AccessLogMiddleware:
    """One structured line per request, with the request id bound for every log line inside it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        structlog.contextvars.bind_contextvars(request_id=correlation_id.get())

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            access_log.info(
                "http_request",
                method=scope["method"],
                path=scope["path"],
                route=getattr(route, "path", None),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def install_observability(app: FastAPI, *collectors: Collector) -> None:
    """Order matters: the correlation id must be set before the access log reads it."""
    # One registry per app: the process-wide default would keep the first app's collectors and
    # silently drop the counts of any later app in the same process (tests, embedding).
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    Instrumentator(
        excluded_handlers=["/metrics"],
        should_group_status_codes=False,
        registry=registry,
    ).instrument(app)

    # Our own route rather than the instrumentator's `expose`, so the OpenAPI document says
    # what is served: Prometheus text, not JSON.
    @app.get(
        "/metrics",
        tags=["health"],
        operation_id="getMetrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    def metrics() -> Response:
        """Prometheus metrics of this API process, in the text exposition format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(
        CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER, validator=is_acceptable_request_id
    )


def is_acceptable_request_id(value: str) -> bool:
    """Accept a caller's id (a UUID or any short token) so their traces join ours; refuse
    values that would pollute logs."""
    return 0 < len(value) <= 128 and all(c.isalnum() or c in "-_.:" for c in value)
