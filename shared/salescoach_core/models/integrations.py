"""Integration records (docs/integrations.md): the domain event log behind the events feed and
webhooks, webhook endpoints and their deliveries (the outbox the delivery worker drains), and
the stored responses that make `Idempotency-Key` replays answer the same."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Identity, Index, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from salescoach_core.models.base import timestamp

EVENT_ID_LENGTH = 40


class DomainEvent(SQLModel, table=True):
    """One thing that happened, written in the transaction of the change it records.

    `sequence` is drawn at insert; `position` is given when the event is published to the feed,
    in the order commits became visible, so no later commit can land behind a feed cursor
    (salescoach_core.integrations.events)."""

    __tablename__ = "event"

    sequence: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    id: str = Field(sa_type=String(EVENT_ID_LENGTH), unique=True, max_length=EVENT_ID_LENGTH)
    type: str = Field(max_length=64)
    occurred_at: datetime = timestamp(nullable=False, index=True)
    position: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True, unique=True))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))


class WebhookEndpoint(SQLModel, table=True):
    """A receiver: where events of the subscribed types are POSTed, signed with its secret."""

    __tablename__ = "webhook_endpoint"
    # `GET /v1/webhooks` pages in keyset order `(created_at, id)`: a page is a range of this index
    # instead of a sort of every endpoint.
    __table_args__ = (Index(None, "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    url: str = Field(sa_type=Text)
    description: str | None = Field(default=None, sa_type=Text)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    # The HMAC key itself (`whsec_...`): it signs every request, so it cannot be stored hashed.
    secret: str = Field(max_length=100)
    created_at: datetime = timestamp(nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: pending until a 2xx, retried with backoff, failed past the
    retry window. A redelivery is a new row for the same event (the log keeps both)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(None, "endpoint_id", "created_at"),
        # A delivery log page in keyset order `(created_at, id)`, ties included: the deliveries of
        # one commit (a pass closing a period's goals) share `created_at`, and without `id` here
        # every page among them read and sorted them all. The index above is its prefix.
        Index(None, "endpoint_id", "created_at", "id"),
        Index(None, "event_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    endpoint_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False)
    )
    event_id: str = Field(
        sa_column=Column(String(EVENT_ID_LENGTH), ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(max_length=16)
    attempts: int = 0
    created_at: datetime = timestamp(nullable=False)
    next_attempt_at: datetime = timestamp(nullable=False)
    last_attempt_at: datetime | None = timestamp()
    delivered_at: datetime | None = timestamp()
    last_response_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST carrying an `Idempotency-Key`, per caller and key."""

    __tablename__ = "idempotency_key"

    principal: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    method: str = Field(max_length=8)
    path: str = Field(sa_type=Text)
    request_hash: str = Field(max_length=64)
    status_code: int
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = timestamp(nullable=False, index=True)
