"""The write-back outbox, API side: every change to a mirrored item bumps its version and
upserts its outbox row in the caller's transaction, so a committed change is never lost and an
uncommitted one is never sent. The sender (salescoach_sync.writeback) drains the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from salescoach_core.models import ActionItem, CoachingGoal, WritebackOutbox
from salescoach_core.wakeup import notify_worker

ItemKind = Literal["action_item", "goal"]
WritebackStatus = Literal["pending", "sent", "failed", "not_mirrored"]


def is_mirrored(item: ActionItem | CoachingGoal) -> bool:
    """Action items owned by the rep and activity goals become Salesforce Tasks (docs/domain.md)."""
    if isinstance(item, ActionItem):
        return item.owner == "rep"
    return item.kind == "activity"


def kind_of(item: ActionItem | CoachingGoal) -> ItemKind:
    return "action_item" if isinstance(item, ActionItem) else "goal"


def record_change(session: Session, item: ActionItem | CoachingGoal, *, now: datetime, created: bool) -> None:
    """Mark a mirrored item's change for write-back: a new version and an outbox row.

    One outbox row per item: a change made while an older one waits replaces its version, so
    a burst of edits becomes one request. A change made while a sender holds the row keeps the
    claim; the sender sees the newer version when it finishes and leaves the row for the next run.
    """
    if not is_mirrored(item):
        item.writeback_status = "not_mirrored"
        return
    if not created:
        item.version += 1
    item.writeback_status = "pending"
    item.writeback_error_code = None
    item.writeback_error = None
    session.add(item)
    session.flush()
    statement = insert(WritebackOutbox).values(
        external_id=item.external_id,
        item_kind=kind_of(item),
        item_id=item.id,
        version=item.version,
        attempts=0,
        available_at=now,
        created_at=now,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[WritebackOutbox.__table__.c.external_id],  # type: ignore[attr-defined]
            set_={
                "version": statement.excluded.version,
                "attempts": 0,
                "available_at": statement.excluded.available_at,
                "last_error": None,
            },
        )
    )
    # The worker sends it once this transaction commits, not at its next sync pass.
    notify_worker(session, "writeback")
