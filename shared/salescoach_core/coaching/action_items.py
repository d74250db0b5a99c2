"""Action items (docs/domain.md, "Coaching sessions"): what coach and rep agreed in a session, each
with an owner, a due date and a status; the rep's items are mirrored to Salesforce as Tasks, and
the rep's plan lists what is overdue and what is due next."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

import structlog
from sqlalchemy import exists
from sqlmodel import Session, col, select

from salescoach_core.coaching.errors import (
    ActionItemNotFoundError,
    CompletedOnOutOfRangeError,
    InvalidActionItemError,
    InvalidOpportunityError,
    SessionClosedError,
)
from salescoach_core.coaching.outbox import record_change
from salescoach_core.database import lock_row
from salescoach_core.integrations.events import emit
from salescoach_core.integrations.payloads import action_item_data
from salescoach_core.keyset import Keyset
from salescoach_core.models import ActionItem, CoachingSession, SfOpportunity
from salescoach_core.revisions import Precondition, claim_revision
from salescoach_core.sfids import normalise_id

log = structlog.get_logger(__name__)


def items_by_session(session: Session, rows: Sequence[CoachingSession]) -> dict[uuid.UUID, list[ActionItem]]:
    """The items of each session (oldest first; every session a key), in one query whatever the
    number of sessions, so a page of sessions does not cost a query per row."""
    items: dict[uuid.UUID, list[ActionItem]] = {row.id: [] for row in rows}
    if not items:
        return items
    for item in session.exec(
        select(ActionItem)
        .where(col(ActionItem.session_id).in_(list(items)))
        .order_by(col(ActionItem.created_at), col(ActionItem.id))
    ):
        items[item.session_id].append(item)
    return items


def items_of(session: Session, row: CoachingSession) -> list[ActionItem]:
    return items_by_session(session, [row])[row.id]


def _opportunity(session: Session, *, rep_id: str, value: str | None) -> str | None:
    """The opportunity id (18 characters) if it is one of the rep's, not deleted: the Task
    written back to Salesforce links to it."""
    if value is None:
        return None
    opportunity_id = normalise_id(value, field="opportunity_id")
    owned = exists().where(
        col(SfOpportunity.id) == opportunity_id,
        col(SfOpportunity.owner_id) == rep_id,
        col(SfOpportunity.is_deleted).is_(False),
    )
    if not session.scalar(select(owned)):
        raise InvalidOpportunityError(
            f"`opportunity_id` {opportunity_id} is not an opportunity of rep {rep_id} "
            "(as last synced from Salesforce).",
            field="opportunity_id",
        )
    return opportunity_id


def create_action_item(
    session: Session,
    *,
    row: CoachingSession,
    owner: Literal["rep", "coach"],
    description: str,
    due_date: date | None,
    opportunity_id: str | None,
    now: datetime,
) -> ActionItem:
    # Locked so that an item cannot join a session a concurrent request is closing.
    lock_row(session, row)
    if row.status in ("canceled", "no_show"):
        raise SessionClosedError(f"Session {row.id} is {row.status}; it takes no action items.")
    if not description.strip():
        raise InvalidActionItemError("An action item needs a `description`.")
    item_id = uuid.uuid4()
    item = ActionItem(
        id=item_id,
        session_id=row.id,
        rep_id=row.rep_id,
        owner=owner,
        description=description,
        due_date=due_date,
        opportunity_id=_opportunity(session, rep_id=row.rep_id, value=opportunity_id),
        status="open",
        created_at=now,
        updated_at=now,
        external_id=f"ai-{item_id}",
        writeback_status="not_mirrored",
    )
    session.add(item)
    session.flush()
    record_change(session, item, now=now, created=True)
    log.info("action_item_created", action_item_id=str(item.id), session_id=str(row.id), owner=owner)
    return item


def get_action_item(session: Session, item_id: uuid.UUID) -> ActionItem:
    item = session.get(ActionItem, item_id)
    if item is None:
        raise ActionItemNotFoundError.of(item_id)
    return item


def update_action_item(
    session: Session,
    *,
    item: ActionItem,
    changes: dict[str, Any],
    now: datetime,
    zone: tzinfo,
    precondition: Precondition | None = None,
) -> ActionItem:
    """Edit an item; `status` completes (on `completed_on`, default today in `zone`), cancels or
    reopens it. `completed_on` lies between the day the item was created and today. 412 unless
    the item is at a revision `precondition` names."""
    claim_revision(session, item, precondition)
    today = now.astimezone(zone).date()
    completed_on = changes.get("completed_on")
    if completed_on is not None:
        created_on = item.created_at.astimezone(zone).date()
        if not created_on <= completed_on <= today:
            raise CompletedOnOutOfRangeError(
                f"`completed_on` must lie between the day the item was created ({created_on}) and "
                f"today ({today}), in the org's time zone; got {completed_on}."
            )
    if "description" in changes:
        if not changes["description"] or not str(changes["description"]).strip():
            raise InvalidActionItemError("`description` cannot be empty.")
        item.description = changes["description"]
    if "due_date" in changes:
        item.due_date = changes["due_date"]
    if "opportunity_id" in changes:
        item.opportunity_id = _opportunity(session, rep_id=item.rep_id, value=changes["opportunity_id"])
    status = changes.get("status")
    if status is not None and status != item.status:
        item.status = status
        if status == "completed":
            item.completed_on = changes.get("completed_on") or today
            item.completed_source = "api"
            emit(session, "action_item.completed", action_item_data(item), now=now)
        else:
            item.completed_on = None
            item.completed_source = None
    elif changes.get("completed_on") is not None:
        if item.status != "completed":
            raise InvalidActionItemError("`completed_on` applies to a completed item (set `status`).")
        item.completed_on = changes["completed_on"]
    item.updated_at = now
    session.add(item)
    record_change(session, item, now=now, created=False)
    session.flush()
    return item


def list_action_items(
    session: Session, *, rep_id: str, status: str | None, keyset: Keyset
) -> Sequence[ActionItem]:
    """One page of the rep's action items, in `keyset`'s order."""
    query = select(ActionItem).where(col(ActionItem.rep_id) == rep_id)
    if status is not None:
        query = query.where(col(ActionItem.status) == status)
    return keyset.fetch(session, query)


def plan(
    session: Session, *, rep_id: str, today: date, days: int
) -> tuple[Sequence[ActionItem], Sequence[ActionItem], Sequence[ActionItem]]:
    """The rep's plan: open items overdue, every item due in `[today, today + days)`, and open
    items without a due date (oldest first), which no date window would ever show."""
    end = today + timedelta(days=days)
    overdue = session.exec(
        select(ActionItem)
        .where(
            col(ActionItem.rep_id) == rep_id,
            col(ActionItem.status) == "open",
            col(ActionItem.due_date) < today,
        )
        .order_by(col(ActionItem.due_date), col(ActionItem.id))
    ).all()
    upcoming = session.exec(
        select(ActionItem)
        .where(
            col(ActionItem.rep_id) == rep_id,
            col(ActionItem.status) != "canceled",
            col(ActionItem.due_date) >= today,
            col(ActionItem.due_date) < end,
        )
        .order_by(col(ActionItem.due_date), col(ActionItem.id))
    ).all()
    undated = session.exec(
        select(ActionItem)
        .where(
            col(ActionItem.rep_id) == rep_id,
            col(ActionItem.status) == "open",
            col(ActionItem.due_date).is_(None),
        )
        .order_by(col(ActionItem.created_at), col(ActionItem.id))
    ).all()
    return overdue, upcoming, undated
