"""`GET /v1/events`: the pull-based feed of domain events, for BI and integrations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import DbSessionDep
from salescoach_api.events.schemas import EventPage, EventPublic
from salescoach_api.pagination import PaginationDep
from salescoach_api.problems import parameters
from salescoach_core.integrations import events
from salescoach_core.integrations.events import EventType

router = v1_router(prefix="/v1", tags=["events"])


@router.get("/events", operation_id="listEvents", dependencies=[requires(Access.FEED)])
def list_events(
    db_session: DbSessionDep,
    page: PaginationDep,
    after: Annotated[str | None, Query(description="Same as `cursor` (kept for feed clients).")] = None,
    type: Annotated[list[EventType] | None, Query(description="Only these event types.")] = None,
) -> EventPage:
    """Events after the cursor in commit order, `SALESCOACH_EVENT_RETENTION_DAYS` back at most.
    Cursors survive restarts; an event committed later never appears behind one."""
    start = page.cursor or after
    events.publish(db_session)
    with parameters("query", "cursor" if page.cursor else "after"):
        rows = events.feed(db_session, after=start, limit=page.limit, types=type)
    next_cursor = rows[-1].cursor if rows else start
    return EventPage(items=[EventPublic.of(e) for e in rows], next_cursor=next_cursor)
