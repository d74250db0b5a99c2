"""The Composite resource (`POST /services/data/vXX.X/composite`): up to 25 subrequests, at
most 5 of them query operations, answered in one response and counted as ONE API call.

Each subrequest runs through the emulator's own routes (same handlers, same errors), marked
in its ASGI scope so the API accounting skips it: Salesforce counts the composite request,
not its parts. Subrequests run in order with `allOrNone` false (each stands alone); references
between subrequests (`@{ref.field}`) are not supported, since nothing here needs them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message

# Set in a subrequest's scope: the API accounting does not count it (the composite was counted).
SUBREQUEST_SCOPE_KEY = "emulator.subrequest"
MAX_SUBREQUESTS = 25
MAX_QUERY_SUBREQUESTS = 5
_QUERY_SEGMENTS = ("query", "queryAll")


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps([{"message": message, "errorCode": code}], separators=(",", ":"))
    return Response(body, status, media_type="application/json;charset=UTF-8")


def _is_query(path: str) -> bool:
    parts = path.strip("/").split("/")
    # /services/data/vXX.X/query[/locator] or .../queryAll[/locator]
    return len(parts) >= 4 and parts[3] in _QUERY_SEGMENTS


async def _dispatch(app: ASGIApp, request: Request, sub: dict[str, Any]) -> tuple[int, Any]:
    """Run one subrequest through `app`; its status and parsed JSON body (None when empty)."""
    url = urlsplit(str(sub.get("url", "")))
    method = str(sub.get("method", "GET")).upper()
    body = json.dumps(sub["body"]).encode() if "body" in sub else b""
    headers = [(b"authorization", request.headers.get("authorization", "").encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    path = url.path.rstrip("/") or "/"
    scope = {
        **request.scope,
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": url.query.encode(),
        "headers": headers,
        SUBREQUEST_SCOPE_KEY: True,
    }
    scope.pop("router", None)
    scope.pop("endpoint", None)
    scope.pop("path_params", None)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 500
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    raw = b"".join(chunks)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", errors="replace")


def composite_handler(app: Callable[[], ASGIApp]) -> Callable[[Request], Awaitable[Response]]:
    """The handler for `POST .../composite`, dispatching into `app()` (the emulator's router)."""

    async def composite(request: Request) -> Response:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            return _error(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}")
        subs = data.get("compositeRequest") if isinstance(data, dict) else None
        if not isinstance(subs, list) or not subs or not all(isinstance(s, dict) for s in subs):
            return _error(400, "INVALID_INPUT", "compositeRequest must be a non-empty list of subrequests")
        if len(subs) > MAX_SUBREQUESTS:
            return _error(
                400, "LIMIT_EXCEEDED", f"Composite requests can have at most {MAX_SUBREQUESTS} subrequests"
            )
        queries = sum(1 for s in subs if _is_query(urlsplit(str(s.get("url", ""))).path))
        if queries > MAX_QUERY_SUBREQUESTS:
            return _error(
                400,
                "LIMIT_EXCEEDED",
                f"Composite requests can have at most {MAX_QUERY_SUBREQUESTS} query operations",
            )
        results = []
        for sub in subs:
            status, body = await _dispatch(app(), request, sub)
            results.append(
                {
                    "body": body,
                    "httpHeaders": {},
                    "httpStatusCode": status,
                    "referenceId": sub.get("referenceId"),
                }
            )
        payload = json.dumps({"compositeResponse": results}, separators=(",", ":"), default=str)
        return Response(payload, 200, media_type="application/json;charset=UTF-8")

    return composite
