"""Webhooks: signed per Standard Webhooks, retried after a 500, exactly once per event id for a
deduplicating receiver, redelivered with the same id, never sent from an API request."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from salescoach_core.database import session_scope
from salescoach_core.integrations import events, webhooks
from salescoach_core.integrations.delivery import DeliveryConfig, deliver_due
from salescoach_core.models.integrations import WebhookDelivery
from tests.integrations.conftest import NOW, Receiver
from tests.plugins.auth import Org

GOAL = {"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "ride-alongs"}
FAST = DeliveryConfig(backoff_seconds=0, retry_window_seconds=3600, concurrency=4)


def _endpoint(engine: Engine, url: str, types: list[str] | None = None) -> tuple[str, str]:
    with session_scope(engine) as session:
        endpoint = webhooks.create_endpoint(
            session, url=url, event_types=types or [], secret=None, description=None, now=NOW
        )
        return str(endpoint.id), endpoint.secret


def _emit(engine: Engine, count: int = 1, type_: events.EventType = "goal.created") -> list[str]:
    with session_scope(engine) as session:
        return [events.emit(session, type_, {"n": n}, now=NOW) for n in range(count)]


def test_deliveries_verify_with_the_standard_webhooks_library(
    committed_engine: Engine, receiver: Receiver
) -> None:
    _, secret = _endpoint(committed_engine, receiver.url)
    [event_id] = _emit(committed_engine)

    totals = deliver_due(committed_engine, FAST)

    assert totals.succeeded == 1
    headers, body = receiver.requests[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["id"] == event_id == headers["webhook-id"]
    assert payload["type"] == "goal.created"
    assert payload["data"] == {"n": 0}


def test_a_receivers_500_is_retried_and_recorded(committed_engine: Engine, receiver: Receiver) -> None:
    endpoint_id, _ = _endpoint(committed_engine, receiver.url)
    [event_id] = _emit(committed_engine)
    receiver.statuses = [500]

    # No backoff here: the same pass retries at once.
    totals = deliver_due(committed_engine, FAST)

    assert (totals.retrying, totals.succeeded) == (1, 1)
    assert receiver.accepted_ids() == [event_id]
    assert [json.loads(b)["id"] for _, b in receiver.requests] == [event_id, event_id]
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    with Session(committed_engine) as session:
        [row] = session.exec(select(WebhookDelivery)).all()
    assert (row.status, row.attempts, row.last_response_code) == ("succeeded", 2, 200)
    assert str(row.endpoint_id) == endpoint_id


def test_past_the_retry_window_a_delivery_fails(committed_engine: Engine, receiver: Receiver) -> None:
    _endpoint(committed_engine, receiver.url)
    _emit(committed_engine)
    receiver.statuses = [500]

    totals = deliver_due(committed_engine, DeliveryConfig(backoff_seconds=10, retry_window_seconds=1))

    assert totals.failed == 1
    with Session(committed_engine) as session:
        [row] = session.exec(select(WebhookDelivery)).all()
    assert (row.status, row.last_response_code) == ("failed", 500)


def test_concurrent_workers_deliver_each_event_exactly_once(
    committed_engine: Engine, receiver: Receiver
) -> None:
    _endpoint(committed_engine, receiver.url)
    ids = _emit(committed_engine, 200)
    config = DeliveryConfig(batch_size=10, concurrency=4)

    workers = [threading.Thread(target=deliver_due, args=(committed_engine, config)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(receiver.accepted_ids()) == sorted(ids)


def test_only_subscribed_types_are_queued(committed_engine: Engine, receiver: Receiver) -> None:
    _endpoint(committed_engine, receiver.url, ["session.held"])
    _emit(committed_engine, 1, "goal.created")
    [held] = _emit(committed_engine, 1, "session.held")

    deliver_due(committed_engine, FAST)

    assert receiver.accepted_ids() == [held]


def test_redelivery_reuses_the_event_id(committed_engine: Engine, receiver: Receiver) -> None:
    endpoint_id, _ = _endpoint(committed_engine, receiver.url)
    [event_id] = _emit(committed_engine)
    deliver_due(committed_engine, FAST)
    with session_scope(committed_engine) as session:
        endpoint = webhooks.get_endpoint(session, uuid.UUID(endpoint_id))
        [first] = webhooks.list_deliveries(session, endpoint=endpoint, after=None, limit=10)
        webhooks.redeliver(session, endpoint=endpoint, delivery_id=first.id, now=NOW + timedelta(seconds=1))

    deliver_due(committed_engine, FAST)

    assert [h["webhook-id"] for h, _ in receiver.requests] == [event_id, event_id]


def test_api_manages_webhooks_and_never_sends_in_the_request(
    client: TestClient, receiver: Receiver, org: Org
) -> None:
    created = client.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["goal.created"]})
    assert created.status_code == 201, created.text
    webhook = created.json()
    assert webhook["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/v1/webhooks/{webhook['id']}").json()
    assert [w["id"] for w in client.get("/v1/webhooks").json()["items"]] == [webhook["id"]]

    bad = client.post("/v1/webhooks", json={"url": "ftp://x", "event_types": []})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_webhook"

    goal = client.post(f"/v1/reps/{org.rep_a1.id}/goals", json=GOAL)
    assert goal.status_code == 201

    # The goal's event is queued for the endpoint in the goal's transaction, and nothing is sent.
    [delivery] = client.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("pending", 0)
    assert receiver.requests == []
    assert client.delete(f"/v1/webhooks/{webhook['id']}").status_code == 204
    assert client.get(f"/v1/webhooks/{webhook['id']}").status_code == 404


@pytest.mark.parametrize("secret", ["nope", "whsec_c2hvcnQ="])
def test_a_malformed_secret_is_refused(client: TestClient, secret: str) -> None:
    answer = client.post("/v1/webhooks", json={"url": "https://example.com/h", "secret": secret})
    assert answer.status_code == 422
