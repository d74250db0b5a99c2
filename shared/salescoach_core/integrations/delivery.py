"""The webhook delivery worker: drains due rows of `webhook_delivery` (the outbox `emit` fills).

A batch is claimed in a short transaction: `FOR UPDATE SKIP LOCKED` picks rows no other worker
holds, and pushing `next_attempt_at` one lease ahead keeps them claimed after the commit, so the
HTTP calls run with no transaction open and any number of workers never send a row twice at
once. A worker that dies mid-send leaves its rows to be claimed again when the lease ends: the
receiver may then see an event twice, always with the same `webhook-id` (the event id), which
is how Standard Webhooks receivers deduplicate. Failures are retried with exponential backoff
until the retry window, counted from the delivery's creation, runs out.

Called from the sync worker loop and `salescoach webhooks deliver`, never from an API request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import Engine, text

from salescoach_core.database import session_scope
from salescoach_core.integrations.events import prune_events
from salescoach_core.integrations.idempotency import prune_idempotency_records
from salescoach_core.integrations.signing import signed_headers
from salescoach_core.settings import Settings

log = structlog.get_logger(__name__)

ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class DeliveryConfig:
    batch_size: int = 100
    concurrency: int = 8
    timeout_seconds: float = 10.0
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    retry_window_seconds: float = 3 * 86400.0
    claim_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            batch_size=settings.webhook_batch_size,
            concurrency=settings.webhook_concurrency,
            timeout_seconds=settings.webhook_timeout_seconds,
            backoff_seconds=settings.webhook_backoff_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
            retry_window_seconds=settings.webhook_retry_window_seconds,
            claim_seconds=settings.webhook_claim_seconds,
        )

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_seconds * 2 ** (attempts - 1), self.backoff_max_seconds))


@dataclass
class DeliveryTotals:
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.succeeded + self.retrying + self.failed


@dataclass(frozen=True)
class _Claimed:
    id: Any
    attempts: int
    created_at: datetime
    url: str
    secret: str
    event_id: str
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    claimed: _Claimed
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_CLAIM_SQL = text(
    """
    WITH due AS (
        SELECT id FROM webhook_delivery
        WHERE status = 'pending' AND next_attempt_at <= :now
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_delivery AS d
    SET attempts = d.attempts + 1, next_attempt_at = :lease_until, last_attempt_at = :now
    FROM due, webhook_endpoint AS w, event AS e
    WHERE d.id = due.id AND w.id = d.endpoint_id AND e.id = d.event_id
    RETURNING d.id, d.attempts, d.created_at, w.url, w.secret, e.id AS event_id, e.type,
              e.occurred_at, e.payload
    """
)

_RECORD_SQL = text(
    """
    UPDATE webhook_delivery
    SET status = :status, next_attempt_at = :next_attempt_at, delivered_at = :delivered_at,
        last_response_code = :code, last_error = :error
    WHERE id = :id AND status = 'pending' AND attempts = :attempts
    """
)


def _body(row: Any) -> bytes:
    payload = {
        "id": row.event_id,
        "type": row.type,
        "timestamp": row.occurred_at.isoformat(),
        "data": row.payload,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _claim(engine: Engine, config: DeliveryConfig, now: datetime) -> list[_Claimed]:
    with session_scope(engine) as session:
        rows = session.execute(
            _CLAIM_SQL,
            {
                "now": now,
                "limit": config.batch_size,
                "lease_until": now + timedelta(seconds=config.claim_seconds),
            },
        ).all()
    return [_Claimed(r.id, r.attempts, r.created_at, r.url, r.secret, r.event_id, _body(r)) for r in rows]


def _send(client: httpx.Client, claimed: _Claimed) -> _Outcome:
    headers = signed_headers(
        claimed.secret, message_id=claimed.event_id, timestamp=int(time.time()), body=claimed.body
    )
    try:
        response = client.post(claimed.url, content=claimed.body, headers=headers)
    except httpx.HTTPError as exc:
        return _Outcome(claimed, None, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT])
    error = None if response.is_success else response.text[:ERROR_TEXT_LIMIT] or response.reason_phrase
    return _Outcome(claimed, response.status_code, error)


def _record(
    engine: Engine, config: DeliveryConfig, outcomes: list[_Outcome], now: datetime
) -> DeliveryTotals:
    totals = DeliveryTotals()
    params = []
    for outcome in outcomes:
        claimed = outcome.claimed
        retry_at = now + config.backoff(claimed.attempts)
        if outcome.ok:
            status, next_at, delivered = "succeeded", now, now
            totals.succeeded += 1
        elif retry_at > claimed.created_at + timedelta(seconds=config.retry_window_seconds):
            status, next_at, delivered = "failed", now, None
            totals.failed += 1
        else:
            status, next_at, delivered = "pending", retry_at, None
            totals.retrying += 1
        params.append(
            {
                "id": claimed.id,
                "attempts": claimed.attempts,
                "status": status,
                "next_attempt_at": next_at,
                "delivered_at": delivered,
                "code": outcome.status_code,
                "error": outcome.error,
            }
        )
    if params:
        with session_scope(engine) as session:
            session.execute(_RECORD_SQL, params)
    return totals


def deliver_due(
    engine: Engine,
    config: DeliveryConfig,
    *,
    client: httpx.Client | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_batches: int | None = None,
) -> DeliveryTotals:
    """Send every delivery that is due, batch after batch, until none is left."""
    own_client = client is None
    http = client or httpx.Client(timeout=config.timeout_seconds, follow_redirects=False)
    totals = DeliveryTotals()
    batches = 0
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="webhook") as pool:
            while max_batches is None or batches < max_batches:
                claimed = _claim(engine, config, clock())
                if not claimed:
                    break
                batches += 1
                outcomes = list(pool.map(lambda c: _send(http, c), claimed))
                done = _record(engine, config, outcomes, clock())
                totals.succeeded += done.succeeded
                totals.retrying += done.retrying
                totals.failed += done.failed
    finally:
        if own_client:
            http.close()
    if totals.attempted:
        log.info(
            "webhook_deliveries_sent",
            succeeded=totals.succeeded,
            retrying=totals.retrying,
            failed=totals.failed,
        )
    return totals


def prune(engine: Engine, settings: Settings, *, now: datetime | None = None) -> tuple[int, int]:
    """Apply the retention settings: old events (with their deliveries) and idempotency records."""
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        events = prune_events(session, now=now, retention_days=settings.event_retention_days)
        keys = prune_idempotency_records(
            session, now=now, retention_hours=settings.idempotency_retention_hours
        )
    if events or keys:
        log.info("integrations_pruned", events=events, idempotency_keys=keys)
    return events, keys
