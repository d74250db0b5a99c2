"""Events come from every write the issue names: the coaching services (in the change's
transaction), completions pulled from Salesforce, and each sync pass."""

from __future__ import annotations

from datetime import UTC, date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from salescoach_core.coaching import action_items
from salescoach_core.coaching import sessions as coaching_sessions
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.refresh import complete_items_from_tasks
from salescoach_core.database import session_scope
from salescoach_core.integrations import events
from salescoach_core.settings import Settings
from salescoach_sync.events import record_sync_completed
from salescoach_sync.report import ObjectResult, SyncReport
from tests.integrations.conftest import NOW, scheduled_session
from tests.plugins.auth import Org
from tests.plugins.factories import Factory


def _types(session: Session) -> list[tuple[str, dict[str, object]]]:
    events.publish(session)
    return [(e.type, e.data) for e in events.feed(session, after=None, limit=100)]


def test_sessions_and_action_items_emit_their_events(db_session: Session, org: Org) -> None:
    config = CoachingConfig.from_settings(Settings())
    held = scheduled_session(db_session, org.rep_a1)
    item = action_items.create_action_item(
        db_session,
        row=held,
        owner="coach",
        description="x",
        due_date=date(2026, 12, 1),
        opportunity_id=None,
        now=NOW,
    )
    coaching_sessions.hold_session(
        db_session,
        row=held,
        fields={"follow_up_at": NOW + timedelta(days=7)},
        snapshot_period=None,
        now=NOW,
        config=config,
    )
    action_items.update_action_item(db_session, item=item, changes={"status": "completed"}, now=NOW, zone=UTC)
    canceled = scheduled_session(db_session, org.rep_a1)
    coaching_sessions.close_session(db_session, row=canceled, status="canceled", now=NOW)

    emitted = _types(db_session)

    assert [t for t, _ in emitted] == ["session.held", "action_item.completed", "session.canceled"]
    assert emitted[1][1]["completed_source"] == "api"


def test_a_task_closed_in_salesforce_emits_action_item_completed(
    db_session: Session, org: Org, factory: Factory
) -> None:
    row = scheduled_session(db_session, org.rep_a1)
    item = action_items.create_action_item(
        db_session,
        row=row,
        owner="rep",
        description="x",
        due_date=date(2026, 12, 1),
        opportunity_id=None,
        now=NOW,
    )
    task = factory.task(org.rep_a1, completed=NOW)
    task.external_id = item.external_id
    db_session.add(task)
    db_session.flush()

    complete_items_from_tasks(db_session, now=NOW, config=CoachingConfig.from_settings(Settings()))

    [(kind, data)] = _types(db_session)
    assert (kind, data["action_item_id"], data["completed_source"]) == (
        "action_item.completed",
        str(item.id),
        "salesforce",
    )


def test_each_sync_pass_emits_sync_completed(committed_engine: Engine) -> None:
    report = SyncReport(results=[ObjectResult("Opportunity", "incremental", "ok", inserted=2)])

    record_sync_completed(committed_engine, report)

    with session_scope(committed_engine) as session:
        [(kind, data)] = _types(session)
    assert kind == "sync.completed"
    assert data["objects"] == [
        {
            "object": "Opportunity",
            "mode": "incremental",
            "status": "ok",
            "inserted": 2,
            "updated": 0,
            "deleted": 0,
            "error_code": None,
        }
    ]
