"""Webhook endpoints and their delivery log: the service behind `/v1/webhooks`.

Deliveries are created by `events.emit` (same transaction as the change) and sent by
`integrations.delivery`; this module only manages endpoints, lists the log and queues
redeliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from salescoach_core.integrations.errors import (
    DeliveryNotFoundError,
    InvalidWebhookError,
    WebhookNotFoundError,
)
from salescoach_core.integrations.events import EVENT_TYPES
from salescoach_core.integrations.signing import generate_secret, is_valid_secret
from salescoach_core.integrations.targets import check_webhook_url
from salescoach_core.keyset import Keyset
from salescoach_core.models.integrations import WebhookDelivery, WebhookEndpoint


def create_endpoint(
    session: Session,
    *,
    url: str,
    event_types: Sequence[str],
    secret: str | None,
    description: str | None,
    allow_private_targets: bool,
    now: datetime,
) -> WebhookEndpoint:
    """Subscribe `url`, which must follow the URL rules and the address policy of
    salescoach_core.integrations.targets (checked again before every delivery)."""
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise InvalidWebhookError(
            f"Unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}.", known=list(EVENT_TYPES)
        )
    if secret is not None and not is_valid_secret(secret):
        raise InvalidWebhookError(
            "`secret` must be `whsec_` + base64 of 24 to 64 random bytes; or omit it.", field="secret"
        )
    check_webhook_url(url, allow_private=allow_private_targets)
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        event_types=sorted(set(event_types)),
        secret=secret or generate_secret(),
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def get_endpoint(session: Session, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookNotFoundError.of(endpoint_id)
    return endpoint


def list_endpoints(session: Session, *, keyset: Keyset) -> Sequence[WebhookEndpoint]:
    """One page of the endpoints, in `keyset`'s order."""
    return keyset.fetch(session, select(WebhookEndpoint))


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint and its delivery log; pending deliveries go with it."""
    session.delete(endpoint)
    session.flush()


def list_deliveries(
    session: Session, *, endpoint: WebhookEndpoint, keyset: Keyset
) -> Sequence[WebhookDelivery]:
    """One page of the endpoint's delivery log, in `keyset`'s order."""
    query = select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id)
    return keyset.fetch(session, query)


def redeliver(
    session: Session, *, endpoint: WebhookEndpoint, delivery_id: uuid.UUID, now: datetime
) -> WebhookDelivery:
    """Queue the delivery's event again for this endpoint: a new log row, the same event id,
    so a receiver that already processed it recognises it by `webhook-id`."""
    original = session.get(WebhookDelivery, delivery_id)
    if original is None or original.endpoint_id != endpoint.id:
        raise DeliveryNotFoundError(f"No delivery {delivery_id} for webhook {endpoint.id}.")
    again = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=original.event_id,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(again)
    session.flush()
    return again
