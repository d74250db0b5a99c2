"""Webhook endpoints and deliveries on the wire. The secret appears once, in the creation answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from salescoach_api.idempotency import SECRET
from salescoach_api.types import RequestModel
from salescoach_core.integrations.events import EventType
from salescoach_core.integrations.targets import MAX_HOST_LENGTH, MAX_URL_LENGTH
from salescoach_core.models.integrations import WebhookDelivery, WebhookEndpoint


class WebhookCreate(RequestModel):
    url: str = Field(
        description=f"Absolute http:// or https:// URL that receives the POSTs: at most {MAX_URL_LENGTH} "
        f"characters of RFC 3986 (ASCII, no spaces or control characters), a host name of at most "
        f"{MAX_HOST_LENGTH} characters or an IP address. Refused with `webhook_url_not_allowed` when "
        "the host is or resolves to a loopback, private, link-local or other non-public address "
        "(docs/integrations.md).",
        examples=["https://bi.example.com/hooks/salescoach"],
        # Enforced by the URL rules (422 `invalid_webhook`, saying what to fix) rather than by the
        # schema (a bare validation_failed), and published so clients can check it first.
        json_schema_extra={"maxLength": MAX_URL_LENGTH},
    )
    event_types: list[EventType] = Field(
        default_factory=list, description="Event types to send; empty: every type."
    )
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="`whsec_` + base64 of 24-64 random bytes; omitted: one is generated and returned once.",
    )
    description: str | None = Field(default=None, max_length=2000)


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[EventType]
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookPublic:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            event_types=endpoint.event_types,
            description=endpoint.description,
            created_at=endpoint.created_at,
        )


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret. Shown only in this answer: store it now.", json_schema_extra=SECRET
    )

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookCreated:
        return cls(**WebhookPublic.of(endpoint).model_dump(), secret=endpoint.secret)


class DeliveryPublic(BaseModel):
    """One attempt log line: an event sent (or to be sent) to the endpoint."""

    id: uuid.UUID
    event_id: str = Field(description="Also the `webhook-id` header of every attempt.")
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next.")
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_response_code: int | None
    last_error: str | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryPublic:
        return cls(
            id=row.id,
            event_id=row.event_id,
            status=row.status,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            last_attempt_at=row.last_attempt_at,
            delivered_at=row.delivered_at,
            last_response_code=row.last_response_code,
            last_error=row.last_error,
        )
