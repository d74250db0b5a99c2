"""`salescoach goals close-due`: close activity and outcome goals whose period has ended."""

from __future__ import annotations

from salescoach_cli.output import command_app, console

app = command_app("Coaching goals.")


@app.command("close-due")
def close_due() -> None:
    """Close every active activity or outcome goal whose period ended, as achieved or missed
    from the synced data (the sync worker does this after every pass)."""
    from datetime import UTC, datetime

    from salescoach_core.coaching.config import CoachingConfig
    from salescoach_core.coaching.goals import close_due_goals
    from salescoach_core.database import Database, session_scope
    from salescoach_core.settings import get_settings

    settings = get_settings()
    config = CoachingConfig.from_settings(settings)
    with session_scope(Database(settings).engine()) as session:
        closed = close_due_goals(session, now=datetime.now(UTC), config=config)
        for goal in closed:
            console().print(f"{goal.id}  {goal.rep_id}  {goal.period_label}  {goal.metric}  {goal.status}")
    console().print(f"closed {len(closed)} goal(s)")
