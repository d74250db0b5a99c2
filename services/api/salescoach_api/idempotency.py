"""`Idempotency-Key` on POST: the first response is stored per (caller, key) and replayed.

An ASGI middleware, because it needs the whole response: a retried POST with the same key and
the same request answers what the first one answered (with `Idempotent-Replayed: true`) without
running again; the same key with a different request answers 422 `idempotency_key_reused`; a
retry while the first is still running answers 409 `idempotency_key_in_use` (for five minutes at
most: a marker older than that was left by a process that died, and a retry takes it over). The caller is the
SHA-256 of the credential, so keys of different callers never meet. Server errors are not stored
(retrying them is the point), nor are 401, 403 and 429, which depend on the credential or the
moment rather than the request. Records live `SALESCOACH_IDEMPOTENCY_RETENTION_HOURS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salescoach_api.problems import problem_response
from salescoach_core.database import Database, session_scope
from salescoach_core.integrations.idempotency import find
from salescoach_core.models.integrations import IdempotencyRecord

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
IN_FLIGHT = 0
# An in-flight marker this old belongs to a request whose process died; a retry may take it.
IN_FLIGHT_STALE = timedelta(minutes=5)
NOT_STORED = frozenset({401, 403, 429})
REPLAYED_HEADERS = ("content-type", "location", "etag")

SessionFactory = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Claim:
    """What `begin` found: nothing (the request runs), or the record of an earlier one."""

    record: IdempotencyRecord | None


class IdempotencyStore:
    """The records, through short transactions of their own."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def begin(self, *, principal: str, key: str, request_hash: str, method: str, path: str) -> Claim:
        """Take the key with an in-flight marker, or return the record already there."""
        now = datetime.now(UTC)
        with self.sessions() as session:
            taken = session.execute(
                insert(IdempotencyRecord)
                .values(
                    principal=principal,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=request_hash,
                    status_code=IN_FLIGHT,
                    headers={},
                    body=b"",
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(col(IdempotencyRecord.key))
            ).first()
            if taken is not None:
                return Claim(None)
            record = find(session, principal=principal, key=key)
            if record is None:
                return Claim(None)
            if record.status_code == IN_FLIGHT and record.created_at < now - IN_FLIGHT_STALE:
                # The first attempt's process died before answering: let this one run.
                record.request_hash = request_hash
                record.created_at = now
                session.add(record)
                return Claim(None)
            session.expunge(record)
            return Claim(record)

    def finish(self, *, principal: str, key: str, status: int, headers: dict[str, str], body: bytes) -> None:
        with self.sessions() as session:
            if status >= 500 or status in NOT_STORED:
                session.execute(
                    delete(IdempotencyRecord).where(
                        col(IdempotencyRecord.principal) == principal, col(IdempotencyRecord.key) == key
                    )
                )
                return
            session.execute(
                update(IdempotencyRecord)
                .where(col(IdempotencyRecord.principal) == principal, col(IdempotencyRecord.key) == key)
                .values(status_code=status, headers=headers, body=body)
            )


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
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        credential = headers.get("authorization")
        if key is None or credential is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not key or len(key) > MAX_KEY_LENGTH:
            await problem_response(
                request,
                status=400,
                code="invalid_idempotency_key",
                detail=f"`Idempotency-Key` must be 1 to {MAX_KEY_LENGTH} characters (a UUID is ideal).",
            )(scope, receive, send)
            return
        body = await _read_body(receive)
        principal = _digest(credential.encode())
        request_hash = _digest(scope["path"].encode(), scope.get("query_string", b""), body)
        store: IdempotencyStore = scope["app"].state.idempotency_store
        claim = await run_in_threadpool(
            store.begin,
            principal=principal,
            key=key,
            request_hash=request_hash,
            method="POST",
            # Percent-encoded: a decoded path may hold a NUL (`%00`), which a text column refuses.
            path=quote(scope["path"]),
        )
        if claim.record is not None:
            await self._answer_from(claim.record, request_hash, request)(scope, receive, send)
            return
        await self._run_and_store(scope, body, send, store, principal, key)

    @staticmethod
    def _answer_from(record: IdempotencyRecord, request_hash: str, request: Request) -> ASGIApp:
        if record.request_hash != request_hash:
            return problem_response(
                request,
                status=422,
                code="idempotency_key_reused",
                detail="This `Idempotency-Key` came with a different request; a new request needs a new key.",
            )
        if record.status_code == IN_FLIGHT:
            return problem_response(
                request,
                status=409,
                code="idempotency_key_in_use",
                detail="A request with this `Idempotency-Key` is still running; retry in a moment.",
                headers={"Retry-After": "1"},
            )

        async def replay(scope: Scope, receive: Receive, send: Send) -> None:
            raw = [(k.encode(), v.encode()) for k, v in record.headers.items()]
            raw.append((b"idempotent-replayed", b"true"))
            await send({"type": "http.response.start", "status": record.status_code, "headers": raw})
            await send({"type": "http.response.body", "body": record.body})

        return replay

    async def _run_and_store(
        self, scope: Scope, body: bytes, send: Send, store: IdempotencyStore, principal: str, key: str
    ) -> None:
        delivered = False

        async def receive_again() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        kept: dict[str, str] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.decode().lower() in REPLAYED_HEADERS:
                        kept[name.decode().lower()] = value.decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_again, capture)
        finally:
            await run_in_threadpool(
                store.finish, principal=principal, key=key, status=status, headers=kept, body=b"".join(chunks)
            )


def _document(schema: dict[str, Any]) -> None:
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
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
