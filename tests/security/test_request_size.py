"""The request body limit: 413 `request_too_large` before the body is read past the limit, before
any credential is looked at, whether the size is announced or the body is streamed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

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


class Sender:
    """A chunked body of `total` bytes that counts what the server pulled from it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"notes": "'
        while self.sent < self.total:
            self.sent += CHUNK
            yield b"x" * CHUNK
        yield b'"}'


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
    sender = Sender(STREAMED)
    with TestClient(small_limit_app, raise_server_exceptions=False) as client:
        answer = client.post(
            f"/v1/reps/{org.rep_a1.id}/sessions", content=sender, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"
    # Reading stopped one chunk past the limit, not at the end of the 4 MiB.
    assert sender.sent <= LIMIT + CHUNK


def test_streamed_body_with_an_idempotency_key_is_cut_and_not_recorded(
    small_limit_app: FastAPI, engine: Engine, org: Org, admin_key: str
) -> None:
    sender = Sender(STREAMED)
    key = "oversize-streamed-body"
    with TestClient(small_limit_app, raise_server_exceptions=False) as client:
        answer = client.post(
            f"/v1/reps/{org.rep_a1.id}/sessions",
            content=sender,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {admin_key}",
                "Idempotency-Key": key,
            },
        )
    assert answer.status_code == 413
    assert sender.sent <= LIMIT + CHUNK
    with engine.connect() as conn:
        stored = conn.scalar(
            select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key == key)  # type: ignore[arg-type]
        )
    assert stored == 0


def test_a_body_at_the_limit_is_read(small_limit_app: FastAPI, org: Org, admin_key: str) -> None:
    body = b'{"scheduled_at": "2026-11-10T10:00:00Z"}'
    padded = body[:-1] + b" " * (LIMIT - len(body)) + b"}"
    with TestClient(
        small_limit_app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {admin_key}"}
    ) as client:
        answer = client.post(
            f"/v1/reps/{org.rep_a1.id}/sessions", content=padded, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 201, answer.text
