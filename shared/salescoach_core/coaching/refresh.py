"""What follows a sync: action items whose Salesforce Task was closed become completed (with the
Task's completion date), and goal progress is recomputed from the fresh data; goals whose
period has ended are closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.goal_progress import refresh_progress
from salescoach_core.coaching.goals import close_due_goals
from salescoach_core.integrations.events import emit
from salescoach_core.integrations.payloads import action_item_data
from salescoach_core.models import ActionItem

log = structlog.get_logger(__name__)

# A Task is ours when it carries the item's external id (synced into sf_task.external_id) or is
# the Task the write-back recorded; the completion date is CompletedDateTime's date in the org's
# zone, else ActivityDate, else the day the sync saw it closed.
_COMPLETE_SQL = text(
    """
    UPDATE action_item AS a
    SET status = 'completed',
        completed_on = coalesce((t.completed_date_time AT TIME ZONE :zone)::date, t.activity_date, :today),
        completed_source = 'salesforce',
        sent_status = t.status,
        updated_at = :now,
        revision = a.revision + 1
    FROM sf_task AS t
    WHERE a.status = 'open' AND a.owner = 'rep'
      AND t.is_closed AND NOT t.is_deleted
      AND (t.external_id = a.external_id OR t.id = a.sf_task_id)
    RETURNING a.id
    """
)


@dataclass(frozen=True)
class RefreshResult:
    completed_items: int
    goals_refreshed: int
    goals_closed: int


def complete_items_from_tasks(session: Session, *, now: datetime, config: CoachingConfig) -> int:
    zone = config.scorecard.zone
    rows = session.execute(
        _COMPLETE_SQL, {"zone": zone.key, "today": now.astimezone(zone).date(), "now": now}
    ).all()
    # The UPDATE ran in SQL; the events carry the rows as it left them, in the same transaction.
    for row in rows:
        item = session.get(ActionItem, row.id, populate_existing=True)
        if item is not None:
            emit(session, "action_item.completed", action_item_data(item), now=now)
    return len(rows)


def refresh_after_sync(session: Session, *, now: datetime, config: CoachingConfig) -> RefreshResult:
    completed = complete_items_from_tasks(session, now=now, config=config)
    closed = close_due_goals(session, now=now, config=config)
    refreshed = refresh_progress(session, now=now, config=config)
    result = RefreshResult(completed_items=completed, goals_refreshed=refreshed, goals_closed=len(closed))
    log.info(
        "coaching_refreshed",
        completed_items=completed,
        goals_refreshed=refreshed,
        goals_closed=len(closed),
    )
    return result
