"""The webhook delivery worker: drains due rows of `webhook_delivery` (the outbox `emit` fills).

A batch is claimed in a short transaction: `FOR UPDATE SKIP LOCKED` picks rows no other worker
holds, and pushing `next_attempt_at` one lease ahead keeps them claimed after the commit, so the
HTTP calls run with no transaction open and any number of workers never send a row twice at
once. A worker that dies mid-send leaves its rows to be claimed again when the lease ends: the
receiver may then see an event twice, always with the same `webhook-id` (the event id), which
is how Standard Webhooks receivers deduplicate. Failures are retried with exponential backoff
until the retry window, counted from the delivery's creation, runs out.

Whatever goes wrong with one delivery (a URL stored before the rules existed, DNS, TLS, an
address the policy refuses, anything unexpected) is recorded on that delivery; it never stops
the pass, which would leave the batch claimed but unrecorded and send it again to every other
receiver when the lease ends. Each request goes to an address resolved and checked by
`targets` just before, so a name cannot be re-pointed at an internal address after the check.

Called from the sync worker loop and `salescoach webhooks deliver`, never from an API request.
"""

from __future__ import annotations

import json
import socket
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import Engine, text

from salescoach_core.database import classify_database_fault, session_scope
from salescoach_core.integrations.errors import InvalidWebhookError, WebhookUrlNotAllowedError
from salescoach_core.integrations.events import prune_events
from salescoach_core.integrations.idempotency import prune_idempotency_records
from salescoach_core.integrations.signing import signed_headers
from salescoach_core.integrations.targets import IPAddress, WebhookTarget, parse_webhook_url, resolve
from salescoach_core.settings import Settings

log = structlog.get_logger(__name__)

# What the log keeps of a failure: a short excerpt, never the receiver's whole answer.
ERROR_EXCERPT_CHARS = 256
# Bytes of a failed response's body read to make the excerpt; the rest is never downloaded.
BODY_READ_BYTES = 4096


@dataclass(frozen=True)
class DeliveryConfig:
    batch_size: int = 100
    concurrency: int = 8
    timeout_seconds: float = 10.0
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    retry_window_seconds: float = 3 * 86400.0
    claim_seconds: float = 60.0
    allow_private_targets: bool = False

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
            allow_private_targets=settings.webhook_allow_private_targets,
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
    secret: str = field(repr=False)
    event_id: str
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    claimed: _Claimed
    status_code: int | None
    error: str | None
    # A failure no retry can cure (the stored URL breaks the rules): recorded failed at once.
    permanent: bool = False

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


def excerpt(text: str, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """`text` fit for the delivery log: control, format and unassigned characters (NUL, CR/LF,
    ANSI escapes, bidi overrides, lone surrogates) become spaces, runs of spaces one, at most
    `limit` characters."""
    visible = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    collapsed = " ".join(visible.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


def _send(client: httpx.Client, config: DeliveryConfig, claimed: _Claimed) -> _Outcome:
    """One attempt. Every failure is this delivery's outcome, never an exception of the pass."""
    try:
        target = parse_webhook_url(claimed.url)
        addresses = resolve(target, allow_private=config.allow_private_targets)
        headers = signed_headers(
            claimed.secret, message_id=claimed.event_id, timestamp=int(time.time()), body=claimed.body
        )
        return _post(client, claimed, target, addresses, headers)
    except InvalidWebhookError as exc:
        return _Outcome(claimed, None, excerpt(f"{exc.code}: {exc.detail}"), permanent=True)
    except WebhookUrlNotAllowedError as exc:
        # Retried: DNS answers and the setting may change; nothing is sent meanwhile.
        return _Outcome(claimed, None, excerpt(f"{exc.code}: {exc.detail}"))
    except socket.gaierror as exc:
        return _Outcome(claimed, None, excerpt(f"DNS lookup failed: {exc.strerror}"))
    except httpx.HTTPError as exc:
        return _Outcome(claimed, None, excerpt(f"{type(exc).__name__}: {exc}"))
    except Exception as exc:
        # The message may quote anything (a stored secret included): the log line keeps the
        # traceback, the delivery log only the type.
        log.exception("webhook_delivery_error", delivery_id=str(claimed.id))
        return _Outcome(claimed, None, f"unexpected error ({type(exc).__name__}); see the worker's log")


def _post(
    client: httpx.Client,
    claimed: _Claimed,
    target: WebhookTarget,
    addresses: list[IPAddress],
    headers: dict[str, str],
) -> _Outcome:
    # The request goes to a checked address, not to the name (which httpx would resolve again);
    # the Host header and TLS (SNI and certificate check) still use the name.
    headers = {**headers, "host": target.authority}
    for address in addresses[:-1]:
        try:
            return _post_to(client, claimed, target, address, headers)
        except httpx.ConnectError:
            continue
    return _post_to(client, claimed, target, addresses[-1], headers)


def _post_to(
    client: httpx.Client,
    claimed: _Claimed,
    target: WebhookTarget,
    address: IPAddress,
    headers: dict[str, str],
) -> _Outcome:
    with client.stream(
        "POST",
        target.url_at(address),
        content=claimed.body,
        headers=headers,
        extensions={"sni_hostname": target.host},
    ) as response:
        # Read (a bounded part of) the body even on success: a response read to its end lets
        # httpx keep the connection for the next delivery.
        body = _read_some(response)
    if response.is_success:
        return _Outcome(claimed, response.status_code, None)
    failure = excerpt(body.decode("utf-8", errors="replace")) or response.reason_phrase
    return _Outcome(claimed, response.status_code, failure)


def _read_some(response: httpx.Response) -> bytes:
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= BODY_READ_BYTES:
                break
    except httpx.HTTPError:
        # The status is what matters; a body cut short still gives what arrived.
        pass
    return body[:BODY_READ_BYTES]


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
        elif outcome.permanent or retry_at > claimed.created_at + timedelta(
            seconds=config.retry_window_seconds
        ):
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
    # An explicit transport: proxy environment variables would resolve the host elsewhere,
    # past the address check.
    http = client or httpx.Client(
        transport=httpx.HTTPTransport(), timeout=config.timeout_seconds, follow_redirects=False
    )
    totals = DeliveryTotals()
    batches = 0
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="webhook") as pool:
            while max_batches is None or batches < max_batches:
                claimed = _claim(engine, config, clock())
                if not claimed:
                    break
                batches += 1
                outcomes = list(pool.map(lambda c: _send(http, config, c), claimed))
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


def run_pass(engine: Engine, settings: Settings) -> DeliveryTotals:
    """One pass of the delivery worker: apply the retention, then send what is due. Pruning
    comes first and on its own, so no trouble in delivering can keep old rows forever."""
    try:
        prune(engine, settings)
    except Exception as exc:
        if classify_database_fault(exc) is not None:
            # Delivering needs the same database: report the outage once, from the caller.
            raise
        log.exception("integrations_prune_failed")
    return deliver_due(engine, DeliveryConfig.from_settings(settings))
