"""The request body limit: 413 `request_too_large` before more than the limit is read.

A pure ASGI middleware outside everything that reads a body (the idempotency middleware buffers
it, FastAPI parses it, authentication runs in the route's dependencies), so an oversize request
costs at most the limit in memory and no database work, whoever sends it.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salescoach_api.problems import problem_response

# Room for a multipart upload's boundaries and part headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class _BodyTooLarge(Exception):
    """Raised into whoever reads past the limit, so no reader buffers more of it."""


class RequestBodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, larger: Mapping[str, int]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max(self.max_bytes, self.larger.get(scope["path"], 0))
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, limit)
            return
        # Chunked bodies announce no length: count what is actually read.
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the app made of a cut body (400, 422, ...), the answer is 413.
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        Request(scope),
        status=413,
        code="request_too_large",
        detail=f"The request body is larger than the {limit} bytes this endpoint accepts; send less.",
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


def install_body_limit(app: FastAPI, *, max_bytes: int, larger: Mapping[str, int]) -> None:
    """`larger`: paths allowed more than `max_bytes` (uploads), by exact path."""
    app.add_middleware(RequestBodyLimitMiddleware, max_bytes=max_bytes, larger=dict(larger))
