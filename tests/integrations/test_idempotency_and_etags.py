"""`Idempotency-Key` on POSTs and `ETag` / `If-None-Match` on scorecards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from salescoach_api.idempotency import IdempotencyStore
from salescoach_core.models.integrations import IdempotencyRecord
from tests.plugins.auth import Org

GOAL = {"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "ride-alongs"}


@pytest.fixture
def idem_client(app: FastAPI, client: TestClient, db_session: Session) -> TestClient:
    """Records go into the test's transaction, like everything the request writes."""

    @contextmanager
    def in_test() -> Iterator[Session]:
        yield db_session
        db_session.flush()

    app.state.idempotency_store = IdempotencyStore(in_test)
    return client


def test_same_key_and_body_replays_the_first_answer(idem_client: TestClient, org: Org) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=GOAL, headers=key)
    again = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=GOAL, headers=key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    listed = idem_client.get(f"/v1/reps/{org.rep_a1.id}/goals").json()["items"]
    assert [g["id"] for g in listed] == [first.json()["id"]]


def test_same_key_with_another_body_is_refused(idem_client: TestClient, org: Org) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=GOAL, headers=key)

    other = idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "skill": "closing"}, headers=key
    )

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_without_a_key_each_post_runs(idem_client: TestClient, org: Org) -> None:
    first = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=GOAL)
    second = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=GOAL)

    assert first.json()["id"] != second.json()["id"]


def test_scorecard_etag_answers_304_when_unchanged(client: TestClient, org: Org) -> None:
    path = f"/v1/reps/{org.rep_a1.id}/scorecard"
    first = client.get(path, params={"period": "2026-10"})
    tag = first.headers["etag"]

    unchanged = client.get(path, params={"period": "2026-10"}, headers={"If-None-Match": tag})
    other_period = client.get(path, params={"period": "2026-09"}, headers={"If-None-Match": tag})

    assert first.status_code == 200
    assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", tag)
    assert other_period.status_code == 200


def test_a_retry_during_the_first_request_is_told_to_wait_then_takes_over_a_dead_one(
    db_session: Session,
) -> None:
    @contextmanager
    def in_test() -> Iterator[Session]:
        yield db_session
        db_session.flush()

    store = IdempotencyStore(in_test)
    args = {"principal": "p" * 64, "key": "k", "request_hash": "h", "method": "POST", "path": "/v1/x"}
    assert store.begin(**args).record is None

    running = store.begin(**args).record
    assert running is not None
    assert running.status_code == 0  # in flight: the middleware answers 409

    db_session.execute(update(IdempotencyRecord).values(created_at=datetime.now(UTC) - timedelta(minutes=6)))
    assert store.begin(**args).record is None
