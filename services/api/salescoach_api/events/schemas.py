"""The events feed's wire types: one event, and the page with its resume cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from salescoach_core.integrations.events import Event, EventType


class EventPublic(BaseModel):
    """One domain event; webhooks POST exactly this object as their body."""

    id: str = Field(description="Stable event id; the `webhook-id` of its webhook deliveries.")
    type: EventType
    timestamp: datetime = Field(description="When the change happened.")
    data: dict[str, Any] = Field(description="The record after the change (docs/integrations.md).")

    @classmethod
    def of(cls, event: Event) -> EventPublic:
        return cls(id=event.id, type=event.type, timestamp=event.occurred_at, data=event.data)


class EventPage(BaseModel):
    """Events oldest first. `next_cursor` is always set: pass it back to resume, even after an
    empty page (new events appear after it)."""

    items: list[EventPublic]
    next_cursor: str | None = None
