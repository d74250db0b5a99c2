"""`Idempotency-Key` on POSTs and `ETag` / `If-None-Match` on scorecards."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from salescoach_api.etags import ETagRoute
from salescoach_core.api_keys import create_api_key, revoke_api_key
from salescoach_core.integrations.idempotency import IdempotencyStore, prune_idempotency_records
from salescoach_core.models.integrations import IdempotencyRecord
from salescoach_core.roles import Role
from tests.plugins.auth import Org, RoleKeys, bearer

GOAL = {"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "ride-alongs"}


def test_same_key_and_body_replays_the_first_answer(idem_client: TestClient, org: Org) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id}, headers=key
    )
    again = idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id}, headers=key
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    listed = idem_client.get(f"/v1/reps/{org.rep_a1.id}/goals").json()["items"]
    assert [g["id"] for g in listed] == [first.json()["id"]]


def test_same_key_with_another_body_is_refused(idem_client: TestClient, org: Org) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id}, headers=key
    )

    other = idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals",
        json={**GOAL, "coach_id": org.manager_a.id, "skill": "closing"},
        headers=key,
    )

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_without_a_key_each_post_runs(idem_client: TestClient, org: Org) -> None:
    first = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id})
    second = idem_client.post(f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id})

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


def etag_routes(app: FastAPI) -> list[RouteContext]:
    """The app's routes that declare ETags, with their full paths."""
    return [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, ETagRoute)]


def test_both_scorecard_reads_declare_etags(app: FastAPI) -> None:
    declared = {c.original_route.operation_id for c in etag_routes(app)}

    assert declared >= {"getRepScorecard", "getTeamScorecards"}


def test_every_route_declaring_etags_documents_and_sends_them(
    app: FastAPI, client: TestClient, org: Org
) -> None:
    operations = {op["operationId"]: op for item in app.openapi()["paths"].values() for op in item.values()}
    path_values = {"rep_id": org.rep_a1.id, "manager_id": org.manager_a.id}
    query = {"period": "2026-10"}
    routes = etag_routes(app)
    assert routes
    for route in routes:
        operation = operations[route.original_route.operation_id]
        unknown = set(route.param_convertors) - path_values.keys()
        assert not unknown, f"{route.path}: give this test a value for {unknown}"
        path = route.path.format(**path_values)

        first = client.get(path, params=query)
        assert first.status_code == 200, path
        again = client.get(
            path, params=query, headers={"If-None-Match": f'"stale", W/{first.headers["etag"]}'}
        )

        tag = '"' + hashlib.sha256(first.content).hexdigest()[:32] + '"'
        assert (first.headers["etag"], first.headers["cache-control"]) == (tag, "private, no-cache"), path
        assert "Authorization" in first.headers["vary"].split(", "), path
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag), path
        assert {"name": "If-None-Match", "in": "header"}.items() <= operation["parameters"][-1].items(), path
        assert "ETag" in operation["responses"]["200"]["headers"], path
        assert "304" in operation["responses"], path


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


def test_a_post_repeated_as_soon_as_its_answer_arrives_is_replayed(
    live_api: str, committed_org: tuple[Org, RoleKeys]
) -> None:
    """The record is kept before the answer leaves: a client that retries the moment the first
    answer arrives must get the replay, never 409 `idempotency_key_in_use`."""
    org, keys = committed_org
    rounds = 60
    with httpx.Client(base_url=live_api, headers=keys.headers(Role.ADMIN), timeout=30) as http:
        scheduled = http.post(
            f"/v1/reps/{org.rep_a1.id}/sessions",
            json={
                "scheduled_at": "2026-11-10T10:00:00Z",
                "duration_minutes": 30,
                "coach_id": org.manager_a.id,
            },
        )
        path = f"/v1/sessions/{scheduled.json()['id']}/action-items"
        outcomes = []
        for n in range(rounds):
            headers = {"Idempotency-Key": str(uuid.uuid4())}
            body = {"description": f"commitment {n}", "due_date": "2026-11-20"}
            first = http.post(path, json=body, headers=headers)
            again = http.post(path, json=body, headers=headers)
            replayed = again.headers.get("idempotent-replayed") == "true"
            outcomes.append(
                (first.status_code, again.status_code, replayed, again.json().get("id") == first.json()["id"])
            )
        items = http.get(f"/v1/reps/{org.rep_a1.id}/action-items", params={"limit": 200}).json()["items"]

    assert [o for o in outcomes if o != (201, 201, True, True)] == []
    assert len(items) == rounds


def test_a_replay_needs_a_credential_that_is_valid_now(
    idem_client: TestClient, db_session: Session, org: Org
) -> None:
    created = create_api_key(db_session, name="soon revoked", role=Role.ADMIN, sf_user_id=None)
    headers = {**bearer(created.plaintext), "Idempotency-Key": str(uuid.uuid4())}
    first = idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id}, headers=headers
    )
    revoke_api_key(db_session, prefix=created.row.prefix)

    again = idem_client.post(
        f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id}, headers=headers
    )

    assert first.status_code == 201
    assert again.status_code == 401
    assert again.json()["code"] == "unauthorized"
    assert "idempotent-replayed" not in again.headers


@pytest.mark.parametrize(
    ("path", "body", "secret_field", "name_field"),
    [
        ("/v1/api-keys", {"name": "ci pipeline", "role": "admin"}, "key", "prefix"),
        ("/v1/webhooks", {"url": "https://bi.example.test/hook"}, "secret", "id"),
    ],
    ids=["api-key", "webhook"],
)
def test_a_secret_in_an_answer_is_never_kept_nor_replayed(
    idem_client: TestClient,
    db_session: Session,
    path: str,
    body: dict[str, Any],
    secret_field: str,
    name_field: str,
) -> None:
    idempotency_key = str(uuid.uuid4())
    headers = {"Idempotency-Key": idempotency_key}
    first = idem_client.post(path, json=body, headers=headers)
    secret = first.json()[secret_field]

    [record] = db_session.exec(
        select(IdempotencyRecord).where(col(IdempotencyRecord.key) == idempotency_key)
    ).all()
    again = idem_client.post(path, json=body, headers=headers)

    assert first.status_code == 201
    assert secret.encode() not in record.body
    assert again.status_code == 409
    assert again.json()["code"] == "response_not_replayable"
    assert again.json()["created"][name_field] == first.json()[name_field]
    assert secret not in again.text


def test_records_older_than_the_retention_are_pruned(db_session: Session) -> None:
    now = datetime(2026, 11, 10, 12, tzinfo=UTC)
    for key, age in (("old", timedelta(hours=25)), ("recent", timedelta(hours=23))):
        db_session.add(
            IdempotencyRecord(
                principal="p" * 64,
                key=key,
                method="POST",
                path="/v1/x",
                request_hash="h",
                status_code=201,
                body=b"{}",
                created_at=now - age,
            )
        )
    db_session.flush()

    assert prune_idempotency_records(db_session, now=now, retention_hours=24) == 1
    kept = db_session.exec(select(IdempotencyRecord).where(col(IdempotencyRecord.principal) == "p" * 64))
    assert [r.key for r in kept] == ["recent"]
