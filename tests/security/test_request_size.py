"""The request body limit: 413 `request_too_large` before the body is read past the limit, before
any credential is looked at, whether the size is announced or the body is streamed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import col
from starlette.types import Message

from salescoach_api.app import create_app
from salescoach_core.database import Database
from salescoach_core.models.integrations import IdempotencyRecord
from salescoach_core.settings import Settings
from tests.plugins.auth import Org

LIMIT = 64 * 1024
CHUNK = 16 * 1024
STREAMED = 4 * 1024 * 1024


@pytest.fixture
def small_limit_app(app: FastAPI, settings: Settings, database: Database) -> FastAPI:
    """The test app with a 64 KiB limit, its requests in the test's transaction like `app`'s."""
    small = create_app(settings.model_copy(update={"max_request_body_bytes": LIMIT}), database)
    small.dependency_overrides = app.dependency_overrides
    return small


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int
    """Request body bytes the app asked for before it answered."""


def post_streamed(app: FastAPI, path: str, total: int, headers: dict[str, str]) -> Answer:
    """POST a chunked body of `total` bytes straight through the ASGI interface, counting how
    much of it the app pulls: a test client would read the whole body before calling the app."""
    pulled = 0
    messages: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        if pulled >= total:
            return {"type": "http.disconnect"}
        pulled += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < total}

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    return Answer(
        status=start["status"],
        headers={k.decode(): v.decode() for k, v in start["headers"]},
        body=b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"),
        pulled=pulled,
    )


def test_announced_oversize_body_is_413_without_credentials(small_limit_app: FastAPI, org: Org) -> None:
    with TestClient(small_limit_app, raise_server_exceptions=False) as client:
        answer = client.post(
            f"/v1/reps/{org.rep_a1.id}/sessions",
            content=b"{" + b" " * LIMIT + b"}",
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "request_too_large"
    assert str(LIMIT) in problem["detail"]
    assert problem["request_id"]


def test_streamed_body_is_cut_at_the_limit(small_limit_app: FastAPI, org: Org) -> None:
    answer = post_streamed(
        small_limit_app, f"/v1/reps/{org.rep_a1.id}/sessions", STREAMED, {"Content-Type": "application/json"}
    )
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert json.loads(answer.body)["code"] == "request_too_large"
    # Reading stopped one chunk past the limit, not at the end of the 4 MiB.
    assert answer.pulled <= LIMIT + CHUNK


def test_streamed_body_with_an_idempotency_key_is_cut_and_not_recorded(
    small_limit_app: FastAPI, engine: Engine, org: Org, admin_key: str
) -> None:
    key = "oversize-streamed-body"
    answer = post_streamed(
        small_limit_app,
        f"/v1/reps/{org.rep_a1.id}/sessions",
        STREAMED,
        {"Content-Type": "application/json", "Authorization": f"Bearer {admin_key}", "Idempotency-Key": key},
    )
    assert answer.status == 413
    assert answer.pulled <= LIMIT + CHUNK
    with engine.connect() as conn:
        stored = conn.scalar(
            select(func.count()).select_from(IdempotencyRecord).where(col(IdempotencyRecord.key) == key)
        )
    assert stored == 0


def test_a_body_at_the_limit_is_read(small_limit_app: FastAPI, org: Org, admin_key: str) -> None:
    body = f'{{"scheduled_at": "2026-11-10T10:00:00Z", "coach_id": "{org.manager_a.id}"}}'.encode()
    padded = body[:-1] + b" " * (LIMIT - len(body)) + b"}"
    with TestClient(
        small_limit_app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {admin_key}"}
    ) as client:
        answer = client.post(
            f"/v1/reps/{org.rep_a1.id}/sessions", content=padded, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 201, answer.text
