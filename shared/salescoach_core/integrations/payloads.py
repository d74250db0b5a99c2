"""The `data` of each event type: the record as it stands after the change, JSON-ready.

One function per record, so the feed, webhooks and docs/integrations.md agree on the shape."""

from __future__ import annotations

from typing import Any

from salescoach_core.models import ActionItem, CoachingGoal, CoachingSession
from salescoach_core.numbers import json_number


def goal_data(goal: CoachingGoal, *, previous_status: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "goal_id": str(goal.id),
        "rep_id": goal.rep_id,
        "coach_id": goal.coach_id,
        "kind": goal.kind,
        "metric": goal.metric,
        "skill": goal.skill,
        "period": goal.period_label,
        "target": json_number(goal.target),
        "progress": json_number(goal.progress),
        "status": goal.status,
    }
    if previous_status is not None:
        data["previous_status"] = previous_status
    return data


def session_data(row: CoachingSession) -> dict[str, Any]:
    return {
        "session_id": str(row.id),
        "rep_id": row.rep_id,
        "coach_id": row.coach_id,
        "mode": row.mode,
        "status": row.status,
        "scheduled_at": row.scheduled_at.isoformat(),
        "closed_at": None if row.closed_at is None else row.closed_at.isoformat(),
        "follow_up_at": None if row.follow_up_at is None else row.follow_up_at.isoformat(),
    }


def action_item_data(item: ActionItem) -> dict[str, Any]:
    return {
        "action_item_id": str(item.id),
        "session_id": str(item.session_id),
        "rep_id": item.rep_id,
        "owner": item.owner,
        "description": item.description,
        "due_date": None if item.due_date is None else item.due_date.isoformat(),
        "completed_on": None if item.completed_on is None else item.completed_on.isoformat(),
        "completed_source": item.completed_source,
    }
