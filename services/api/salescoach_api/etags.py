"""`ETag` / `If-None-Match` on scorecard reads: a client polling a scorecard that has not
changed gets 304 and no body.

The tag is a hash of the body the route produced, so it changes exactly when the figures do
(scorecards are computed per request, with no version column to derive it from); what is saved
is the transfer and the client's re-rendering, not the computation.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCORECARD_PATH = re.compile(r"^/v1/(reps/[^/]+/scorecard|teams/[^/]+/scorecards)$")
OPENAPI_PATH = re.compile(r"^/v1/(reps/\{rep_id\}/scorecard|teams/\{manager_id\}/scorecards)$")


def _matches(tag: str, header: str) -> bool:
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return "*" in candidates or tag in candidates


class ScorecardETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not SCORECARD_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, buffer)
        assert start is not None
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if start["status"] != 200:
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers += [
            (b"etag", tag.encode()),
            (b"cache-control", b"private, no-cache"),
            (b"vary", b"Authorization"),
        ]
        if _matches(tag, Headers(scope=scope).get("if-none-match", "")):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _document(schema: dict[str, Any]) -> None:
    for path, operations in schema["paths"].items():
        operation = operations.get("get") if OPENAPI_PATH.match(path) else None
        if operation is None:
            continue
        operation.setdefault("parameters", []).append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "The `ETag` of a scorecard you hold: 304 when it is unchanged.",
            }
        )
        operation["responses"]["200"]["headers"] = {
            "ETag": {"schema": {"type": "string"}, "description": "Tag of this scorecard's content."}
        }
        operation["responses"]["304"] = {"description": "Unchanged since the `If-None-Match` tag."}


def install_etags(app: FastAPI) -> None:
    app.add_middleware(ScorecardETagMiddleware)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
