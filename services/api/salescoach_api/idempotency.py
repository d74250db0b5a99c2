"""`Idempotency-Key` on POST: the first answer is kept per (caller, key) and replayed.

Three parts, so that a replay is authorized like any request and is never sent before it is kept:

- `IdempotencyMiddleware` reads the body (the request's hash covers it), and holds the answer of
  a request that claimed a key until the record is stored, then sends it: a retry sent the
  moment the answer arrives finds the record, never the in-flight marker.
- `admit`, called by the route's access check once the caller is authenticated (401) and
  authorized (403, 404) with a credential valid now, claims the key or answers from the record:
  the replay (`Idempotent-Replayed: true`), 422 `idempotency_key_reused` for another request,
  409 `idempotency_key_in_use` while the first still runs, 409 `response_not_replayable` when
  the first answer carried a secret.
- The store (salescoach_core.integrations.idempotency) owns the records, their redaction and
  pruning.

The caller is the credential's identity (API key prefix, OIDC subject), so a refreshed token
still replays and keys of different callers never meet. A response field marked `SECRET` (a
new API key, a webhook secret) is never kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from pydantic import BaseModel, JsonValue
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salescoach_api.problems import field_errors, parameters, problem_response
from salescoach_core.access import Principal
from salescoach_core.database import Database, session_scope
from salescoach_core.integrations.idempotency import (
    IN_FLIGHT,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    IdempotencyStore,
    ResponseNotReplayableError,
)
from salescoach_core.models.integrations import IdempotencyRecord

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("content-type", "location", "etag")
SCOPE_KEY = "salescoach.idempotency"

SECRET: dict[str, JsonValue] = {"x-secret": True}
"""`json_schema_extra` of a response field that carries a secret shown once: such a field is
never kept in an idempotency record, and an answer that had one is not replayed."""


@dataclass
class Pending:
    """An idempotent POST on its way: set by the middleware, claimed by `admit`."""

    key: str
    request_hash: str
    principal: str | None = None
    """Set when this request claimed the key: its answer is to be kept."""
    secret_fields: frozenset[str] = field(default_factory=frozenset)


class Replay(Exception):
    """Answer from the record instead of running the endpoint."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


def secret_fields(route: BaseRoute | None) -> frozenset[str]:
    """The response fields of `route` marked `SECRET`."""
    model = getattr(route, "response_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return frozenset()
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("x-secret") is True
    )


def admit(request: Request, principal: Principal) -> None:
    """Claim the request's `Idempotency-Key` for `principal`, or raise what answers instead.

    Called after authentication and authorization, so a replay needs a credential valid now."""
    pending: Pending | None = request.scope.get(SCOPE_KEY)
    if pending is None:
        return
    store: IdempotencyStore = request.app.state.idempotency_store
    caller = _digest(f"{principal.kind}:{principal.subject}".encode())
    route = request.scope.get("route")
    claim = store.begin(
        principal=caller,
        key=pending.key,
        request_hash=pending.request_hash,
        method="POST",
        # Percent-encoded: a decoded path may hold a NUL (`%00`), which a text column refuses.
        path=quote(request.scope["path"]),
    )
    record = claim.record
    if record is None:
        pending.principal = caller
        pending.secret_fields = secret_fields(route)
        return
    if record.request_hash != pending.request_hash:
        with parameters("header", HEADER):
            raise IdempotencyKeyReusedError(
                "This `Idempotency-Key` came with a different request; a new request needs a new key."
            )
    if record.status_code == IN_FLIGHT:
        raise IdempotencyKeyInUseError(
            "A request with this `Idempotency-Key` is still running; retry in a moment.",
            headers={"Retry-After": "1"},
        )
    if 200 <= record.status_code < 300 and secret_fields(route):
        raise ResponseNotReplayableError(
            "The first request with this `Idempotency-Key` succeeded, and its answer carried a secret "
            "that is shown once and never kept, so it cannot be sent again. `created` is that answer "
            "without the secret: if you did not receive the secret, revoke or delete what was created "
            "and create it again with a new key.",
            created=_json_or_none(record.body),
        )
    raise Replay(record)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.hexdigest()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            # Answered here, before any route: named in `errors[]` as `parameters` names a header.
            detail = f"`Idempotency-Key` must be 1 to {MAX_KEY_LENGTH} characters (a UUID is ideal)."
            code = "invalid_idempotency_key"
            await problem_response(
                Request(scope),
                status=400,
                code=code,
                detail=detail,
                errors=field_errors([("header", HEADER)], detail, code),
            )(scope, receive, send)
            return
        body = await _read_body(receive)
        pending = Pending(
            key=key, request_hash=_digest(scope["path"].encode(), scope.get("query_string", b""), body)
        )
        scope[SCOPE_KEY] = pending
        await self._run(scope, body, send, pending)

    async def _run(self, scope: Scope, body: bytes, send: Send, pending: Pending) -> None:
        store: IdempotencyStore = scope["app"].state.idempotency_store
        delivered = False

        async def receive_again() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: Message | None = None
        chunks: list[bytes] = []
        kept = False

        async def keep_then_send(message: Message) -> None:
            nonlocal start, kept
            if pending.principal is None:  # not claimed: a replay, a refusal, a 401
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            whole = b"".join(chunks)
            await run_in_threadpool(
                store.finish,
                principal=pending.principal,
                key=pending.key,
                status=start["status"],
                headers=_replayed_headers(start),
                body=whole,
                secret_fields=pending.secret_fields,
            )
            kept = True
            await send(start)
            await send({"type": "http.response.body", "body": whole})

        try:
            await self.app(scope, receive_again, keep_then_send)
        finally:
            if pending.principal is not None and not kept:
                # No answer came through (an unhandled error): drop the marker so a retry runs.
                await run_in_threadpool(
                    store.finish,
                    principal=pending.principal,
                    key=pending.key,
                    status=500,
                    headers={},
                    body=b"",
                )


def _replayed_headers(start: Message) -> dict[str, str]:
    kept = {}
    for name, value in start.get("headers", []):
        lowered = name.decode().lower()
        if lowered in REPLAYED_HEADERS:
            kept[lowered] = value.decode()
    return kept


async def _replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    record = exc.record
    return Response(
        content=record.body,
        status_code=record.status_code,
        headers={**record.headers, "Idempotent-Replayed": "true"},
    )


def document_idempotency(schema: dict[str, Any]) -> None:
    """Add the `Idempotency-Key` header to every `/v1` POST of the OpenAPI document."""
    for path, operations in schema["paths"].items():
        operation = operations.get("post") if path.startswith("/v1/") else None
        if operation is not None:
            operation.setdefault("parameters", []).append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
                    "description": "Retry-safe POST: the same key and request replay the first answer "
                    "(docs/integrations.md).",
                }
            )


def install_idempotency(app: FastAPI, database: Database) -> None:
    app.state.idempotency_store = IdempotencyStore(lambda: session_scope(database.engine()))
    app.add_middleware(IdempotencyMiddleware)
    app.add_exception_handler(Replay, _replay)
