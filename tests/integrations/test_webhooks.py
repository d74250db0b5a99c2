"""Webhooks: signed per Standard Webhooks, retried after a 500, exactly once per event id for a
deduplicating receiver, redelivered with the same id, never sent from an API request; URLs
checked against the rules and the SSRF policy at creation and before every request, and one
delivery's failure recorded on it without stopping the pass."""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import trustme
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from salescoach_core.database import Database, session_scope
from salescoach_core.integrations import events, webhooks
from salescoach_core.integrations.delivery import ERROR_EXCERPT_CHARS, DeliveryConfig, deliver_due
from salescoach_core.integrations.signing import generate_secret
from salescoach_core.keyset import Keyset
from salescoach_core.models.integrations import DomainEvent, WebhookDelivery
from salescoach_core.settings import Settings
from tests.cli.test_commands import salescoach
from tests.integrations.conftest import NOW, Receiver
from tests.plugins.api import app_in_test_transaction
from tests.plugins.auth import Org

GOAL = {"kind": "skill", "skill": "discovery", "period": "2026-11", "measurement_plan": "ride-alongs"}


@pytest.fixture
def fast(on_premise: Settings) -> DeliveryConfig:
    # No backoff: a retry is due in the same pass.
    return DeliveryConfig.from_settings(
        on_premise.model_copy(
            update={
                "webhook_backoff_seconds": 0,
                "webhook_retry_window_seconds": 3600,
                "webhook_concurrency": 4,
            }
        )
    )


@pytest.fixture
def on_premise_client(
    on_premise: Settings, database: Database, db_session: Session, admin_key: str
) -> Iterator[TestClient]:
    app = app_in_test_transaction(on_premise, database, db_session)
    with TestClient(
        app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {admin_key}"}
    ) as test_client:
        yield test_client


def _endpoint(
    engine: Engine, settings: Settings, url: str, types: list[str] | None = None
) -> tuple[str, str]:
    with session_scope(engine) as session:
        endpoint = webhooks.create_endpoint(
            session,
            url=url,
            event_types=types or [],
            secret=None,
            description=None,
            allow_private_targets=settings.webhook_allow_private_targets,
            now=NOW,
        )
        return str(endpoint.id), endpoint.secret


def _stored_endpoint(engine: Engine, url: str, secret: str | None = None) -> str:
    """An endpoint written straight to the table, as rows stored before the URL rules were."""
    endpoint_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhook_endpoint (id, url, event_types, secret, created_at) "
                "VALUES (:id, :url, '[]', :secret, :now)"
            ),
            {"id": endpoint_id, "url": url, "secret": secret or generate_secret(), "now": NOW},
        )
    return endpoint_id


def _deliveries(engine: Engine, endpoint_id: str) -> list[WebhookDelivery]:
    with Session(engine) as session:
        return list(
            session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id)))
        )


def _emit(engine: Engine, count: int = 1, type_: events.EventType = "goal.created") -> list[str]:
    with session_scope(engine) as session:
        return [events.emit(session, type_, {"n": n}, now=NOW) for n in range(count)]


def test_deliveries_verify_with_the_standard_webhooks_library(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings, fast: DeliveryConfig
) -> None:
    _, secret = _endpoint(committed_engine, on_premise, receiver.url)
    [event_id] = _emit(committed_engine)

    totals = deliver_due(committed_engine, fast)

    assert totals.succeeded == 1
    headers, body = receiver.requests[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["id"] == event_id == headers["webhook-id"]
    assert payload["type"] == "goal.created"
    assert payload["data"] == {"n": 0}


def test_a_receivers_500_is_retried_and_recorded(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings, fast: DeliveryConfig
) -> None:
    endpoint_id, _ = _endpoint(committed_engine, on_premise, receiver.url)
    [event_id] = _emit(committed_engine)
    receiver.statuses = [500]

    # No backoff here: the same pass retries at once.
    totals = deliver_due(committed_engine, fast)

    assert (totals.retrying, totals.succeeded) == (1, 1)
    assert receiver.accepted_ids() == [event_id]
    assert [json.loads(b)["id"] for _, b in receiver.requests] == [event_id, event_id]
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    with Session(committed_engine) as session:
        [row] = session.exec(select(WebhookDelivery)).all()
    assert (row.status, row.attempts, row.last_response_code) == ("succeeded", 2, 200)
    assert str(row.endpoint_id) == endpoint_id


def test_past_the_retry_window_a_delivery_fails(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings
) -> None:
    _endpoint(committed_engine, on_premise, receiver.url)
    _emit(committed_engine)
    receiver.statuses = [500]
    short = on_premise.model_copy(update={"webhook_backoff_seconds": 10, "webhook_retry_window_seconds": 1})

    totals = deliver_due(committed_engine, DeliveryConfig.from_settings(short))

    assert totals.failed == 1
    with Session(committed_engine) as session:
        [row] = session.exec(select(WebhookDelivery)).all()
    assert (row.status, row.last_response_code) == ("failed", 500)


def test_concurrent_workers_deliver_each_event_exactly_once(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings
) -> None:
    _endpoint(committed_engine, on_premise, receiver.url)
    ids = _emit(committed_engine, 200)
    config = DeliveryConfig.from_settings(
        on_premise.model_copy(update={"webhook_batch_size": 10, "webhook_concurrency": 4})
    )

    workers = [threading.Thread(target=deliver_due, args=(committed_engine, config)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(receiver.accepted_ids()) == sorted(ids)


def test_only_subscribed_types_are_queued(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings, fast: DeliveryConfig
) -> None:
    _endpoint(committed_engine, on_premise, receiver.url, ["session.held"])
    _emit(committed_engine, 1, "goal.created")
    [held] = _emit(committed_engine, 1, "session.held")

    deliver_due(committed_engine, fast)

    assert receiver.accepted_ids() == [held]


def test_redelivery_reuses_the_event_id(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings, fast: DeliveryConfig
) -> None:
    endpoint_id, _ = _endpoint(committed_engine, on_premise, receiver.url)
    [event_id] = _emit(committed_engine)
    deliver_due(committed_engine, fast)
    with session_scope(committed_engine) as session:
        endpoint = webhooks.get_endpoint(session, uuid.UUID(endpoint_id))
        by_id = Keyset(column=WebhookDelivery.id, id_column=WebhookDelivery.id, limit=10)
        [first] = webhooks.list_deliveries(session, endpoint=endpoint, keyset=by_id)
        webhooks.redeliver(session, endpoint=endpoint, delivery_id=first.id, now=NOW + timedelta(seconds=1))

    deliver_due(committed_engine, fast)

    assert [h["webhook-id"] for h, _ in receiver.requests] == [event_id, event_id]


def test_api_manages_webhooks_and_never_sends_in_the_request(
    on_premise_client: TestClient, receiver: Receiver, org: Org
) -> None:
    client = on_premise_client
    created = client.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["goal.created"]})
    assert created.status_code == 201, created.text
    webhook = created.json()
    assert webhook["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/v1/webhooks/{webhook['id']}").json()
    assert [w["id"] for w in client.get("/v1/webhooks").json()["items"]] == [webhook["id"]]

    bad = client.post("/v1/webhooks", json={"url": "ftp://x", "event_types": []})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_webhook"

    goal = client.post(f"/v1/reps/{org.rep_a1.id}/goals", json={**GOAL, "coach_id": org.manager_a.id})
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


LONG_HOST = "a" * 10_000
# 5 labels of 60 characters and 4 dots: 304 characters, past the 253 of a DNS name.
LONG_NAME = ".".join(["a" * 60] * 5)


@pytest.mark.parametrize(
    "url",
    [
        "http://x/\r\nX-Injected: 1",
        f"http://{LONG_HOST}/hook",
        f"https://{LONG_NAME}/hook",
        f"https://{'a' * 64}.example.com/hook",
        "https://example.com/a b",
        "https://bücher.example/hook",
        "http://evil.example\\@127.0.0.1/",
        "https://example.com/%zz",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://[fe80::1%25eth0]/hook",
        "https://example.com:0/hook",
        "https://example.com:65536/hook",
        "ftp://example.com/hook",
        "/relative/hook",
        "https://hook-user:s3cr3t-pass@example.com/hook",
        "https://hook-user@example.com/hook",
    ],
)
def test_a_url_breaking_the_rules_is_refused_with_422(client: TestClient, url: str) -> None:
    answer = client.post("/v1/webhooks", json={"url": url})

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "invalid_webhook"
    # The detail says what to fix without echoing the whole URL (or a password in it) back.
    assert len(answer.json()["detail"]) < 400
    assert "s3cr3t-pass" not in answer.text
    assert client.get("/v1/webhooks").json()["items"] == []


INTERNAL_URLS = [
    "http://127.0.0.1:{port}/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://localhost:{port}/hook",
    "http://0.0.0.0:{port}/hook",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_by_default_a_url_to_an_internal_address_is_refused_at_creation(
    client: TestClient, receiver: Receiver, url: str
) -> None:
    answer = client.post("/v1/webhooks", json={"url": url.format(port=receiver.port)})

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "webhook_url_not_allowed"
    assert client.get("/v1/webhooks").json()["items"] == []


def test_allowing_private_targets_admits_internal_receivers_but_never_link_local(
    on_premise_client: TestClient, receiver: Receiver
) -> None:
    for url in (receiver.url, f"http://localhost:{receiver.port}/hook", "http://10.0.0.1/hook"):
        assert on_premise_client.post("/v1/webhooks", json={"url": url}).status_code == 201, url
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook", "http://0.0.0.0/hook"):
        answer = on_premise_client.post("/v1/webhooks", json={"url": url})
        assert (answer.status_code, answer.json()["code"]) == (422, "webhook_url_not_allowed"), url


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_by_default_a_stored_internal_url_is_refused_before_connecting(
    committed_engine: Engine, receiver: Receiver, settings: Settings, url: str
) -> None:
    # Stored while private targets were allowed (or before the policy), then the setting is off.
    endpoint_id = _stored_endpoint(committed_engine, url.format(port=receiver.port))
    _emit(committed_engine)
    assert settings.webhook_allow_private_targets is False

    totals = deliver_due(committed_engine, DeliveryConfig.from_settings(settings))

    assert (totals.retrying, totals.succeeded) == (1, 0)
    assert receiver.requests == []
    [row] = _deliveries(committed_engine, endpoint_id)
    assert (row.status, row.attempts, row.last_response_code) == ("pending", 1, None)
    assert row.last_error is not None
    assert row.last_error.startswith("webhook_url_not_allowed: ")


def test_a_host_name_is_resolved_once_and_sent_to_with_its_host_header(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings, fast: DeliveryConfig
) -> None:
    _endpoint(committed_engine, on_premise, f"http://localhost:{receiver.port}/hook")
    [event_id] = _emit(committed_engine)

    assert deliver_due(committed_engine, fast).succeeded == 1

    assert receiver.accepted_ids() == [event_id]
    assert receiver.requests[0][0]["host"] == f"localhost:{receiver.port}"


def test_https_to_a_checked_address_keeps_the_names_sni_and_certificate_check(
    committed_engine: Engine,
    tls_receiver: Receiver,
    receiver_ca: trustme.CA,
    on_premise: Settings,
) -> None:
    by_name, _ = _endpoint(committed_engine, on_premise, f"https://localhost:{tls_receiver.port}/hook")
    by_address, _ = _endpoint(committed_engine, on_premise, tls_receiver.url)
    [event_id] = _emit(committed_engine)
    trust = ssl.create_default_context()
    receiver_ca.configure_trust(trust)

    with httpx.Client(transport=httpx.HTTPTransport(verify=trust)) as client:
        # With the default backoff the failed attempt is not retried within this pass.
        deliver_due(committed_engine, DeliveryConfig.from_settings(on_premise), client=client)

    assert tls_receiver.accepted_ids() == [event_id]
    assert "localhost" in tls_receiver.server_names
    assert tls_receiver.requests[0][0]["host"] == f"localhost:{tls_receiver.port}"
    [ok] = _deliveries(committed_engine, by_name)
    assert ok.status == "succeeded"
    # The certificate names localhost, not 127.0.0.1: a TLS error, recorded on that delivery.
    [refused] = _deliveries(committed_engine, by_address)
    assert (refused.status, refused.last_response_code) == ("pending", None)
    assert refused.last_error is not None
    assert "certificate verify failed" in refused.last_error.lower()


def test_a_stored_url_breaking_the_rules_fails_alone_and_the_pass_goes_on(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings
) -> None:
    good = _stored_endpoint(committed_engine, receiver.url)
    injected = _stored_endpoint(committed_engine, "http://x/\r\nX-Injected: 1")
    long_host = _stored_endpoint(committed_engine, f"http://{LONG_HOST}/hook")
    unresolvable = _stored_endpoint(committed_engine, "http://receiver.invalid/hook")
    # A key that is not base64: signing raises, an error no code path expects.
    bad_secret = _stored_endpoint(committed_engine, receiver.url, secret="whsec_abc")
    ids = _emit(committed_engine, 3)
    # A lease shorter than the pause below: rows a crashed pass left unrecorded come back.
    config = DeliveryConfig.from_settings(on_premise.model_copy(update={"webhook_claim_seconds": 0.2}))

    first = deliver_due(committed_engine, config)
    time.sleep(0.3)
    second = deliver_due(committed_engine, config)

    assert sorted(receiver.accepted_ids()) == sorted(ids)
    assert len(receiver.requests) == 3
    assert (first.succeeded, first.failed, first.retrying) == (3, 6, 6)
    assert second.attempted == 0
    for endpoint_id in (injected, long_host):
        rows = _deliveries(committed_engine, endpoint_id)
        assert [(r.status, r.attempts) for r in rows] == [("failed", 1)] * 3
        assert all(r.last_error and r.last_error.startswith("invalid_webhook: ") for r in rows)
    for endpoint_id, error in ((unresolvable, "DNS lookup failed"), (bad_secret, "unexpected error")):
        rows = _deliveries(committed_engine, endpoint_id)
        assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * 3
        assert all(r.last_error and r.last_error.startswith(error) for r in rows)
    assert {r.status for r in _deliveries(committed_engine, good)} == {"succeeded"}


def test_a_failed_answer_is_logged_as_a_short_clean_excerpt(
    committed_engine: Engine, receiver: Receiver, on_premise: Settings
) -> None:
    endpoint_id = _stored_endpoint(committed_engine, receiver.url)
    _emit(committed_engine)
    receiver.statuses = [500]
    # NUL (which PostgreSQL text refuses), CR/LF, an ANSI escape, invalid UTF-8, then a lot.
    receiver.body = b"\x00boom\r\nX-Evil: 1\x1b[31m red\xff" + b"x" * 100_000

    deliver_due(committed_engine, DeliveryConfig.from_settings(on_premise))

    [row] = _deliveries(committed_engine, endpoint_id)
    assert (row.status, row.last_response_code) == ("pending", 500)
    # Controls become spaces, runs of spaces one, the invalid byte U+FFFD; cut with an ellipsis.
    start = "boom X-Evil: 1 [31m red\ufffd"
    assert row.last_error == start + "x" * (ERROR_EXCERPT_CHARS - 1 - len(start)) + "…"


def test_webhooks_deliver_prunes_and_delivers_despite_a_bad_stored_url(
    committed_url: str, committed_engine: Engine, receiver: Receiver, tmp_path: Path
) -> None:
    _stored_endpoint(committed_engine, receiver.url)
    _stored_endpoint(committed_engine, "http://x/\r\nX-Injected: 1")
    ids = _emit(committed_engine, 5)
    with session_scope(committed_engine) as session:
        events.emit(session, "goal.created", {"old": True}, now=NOW - timedelta(days=31))
    env = {"DATABASE_URL": committed_url, "SALESCOACH_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}

    run = salescoach("webhooks", "deliver", env=env, cwd=tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    # 5 to the receiver, 5 failed at once on the bad URL; the old event pruned before sending.
    assert "delivered 5, retrying 0, failed 5" in run.stdout
    assert sorted(receiver.accepted_ids()) == sorted(ids)
    with Session(committed_engine) as session:
        remaining = session.exec(select(DomainEvent.id)).all()
    assert sorted(remaining) == sorted(ids)
