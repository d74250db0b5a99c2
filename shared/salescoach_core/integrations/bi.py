"""The read-only `bi` schema: documented views for Metabase, Looker or dbt (docs/integrations.md).

The view definitions live here, used by the migration that creates them and by the exports, so
a CSV export and a dashboard reading `bi.*` show the same columns. Views hide write-back
bookkeeping and secrets; deleted Salesforce rows never appear.
"""

from __future__ import annotations

from sqlalchemy import ClauseElement, Connection, select, text
from sqlalchemy.dialects import postgresql
from sqlmodel import col

from salescoach_core.models import SfUser
from salescoach_core.reps import manages_a_rep, rep_condition

SCHEMA = "bi"


def _sql(query: ClauseElement) -> str:
    """A view's SELECT written from the query the API runs, so both apply one definition."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


_USER_COLUMNS = [
    col(c) for c in (SfUser.name, SfUser.email, SfUser.manager_id, SfUser.is_active, SfUser.title)
]

VIEWS: dict[str, tuple[str, str]] = {
    "reps": (
        "Reps, as GET /v1/reps lists them: active users who own an opportunity that is not "
        "deleted, or have a manager. Id, name, email, manager, active flag, title.",
        _sql(select(col(SfUser.id).label("rep_id"), *_USER_COLUMNS).where(rep_condition())),
    ),
    "people": (
        "Every synced Salesforce user (reps, managers, VPs, inactive users), as GET "
        "/v1/people/{id} answers: is_rep as bi.reps counts them, is_manager when their team has a rep.",
        _sql(
            select(
                col(SfUser.id).label("user_id"),
                *_USER_COLUMNS,
                rep_condition().label("is_rep"),
                manages_a_rep().label("is_manager"),
            )
        ),
    ),
    "opportunities": (
        "Opportunities that are not deleted, with owner, amount (numeric), stage, dates and outcome.",
        """SELECT id AS opportunity_id, owner_id AS rep_id, name, account_id, amount, stage_name,
                  is_closed, is_won, close_date, created_date, probability, forecast_category_name,
                  type, lead_source
           FROM public.sf_opportunity WHERE NOT is_deleted""",
    ),
    "coaching_goals": (
        "Coaching goals: kind, metric or skill, period bounds [period_start, period_end), "
        "baseline, target, progress, status.",
        """SELECT id AS goal_id, rep_id, coach_id, kind, metric, cadence, skill, period_label,
                  period_start, period_end, baseline, target, progress, progress_as_of,
                  coach_rating, status, created_at, updated_at, closed_at
           FROM public.coaching_goal""",
    ),
    "coaching_sessions": (
        "Coaching sessions: mode (developmental, consequence), status (scheduled, held, canceled, "
        "no_show), schedule, duration, follow-up, acknowledgment.",
        """SELECT id AS session_id, rep_id, coach_id, mode, status, scheduled_at, duration_minutes,
                  follow_up_at, closed_at, acknowledged_at, focus_behavior, standard_metric,
                  standard_threshold, deadline, created_at, updated_at
           FROM public.coaching_session""",
    ),
    "action_items": (
        "Action items agreed in sessions: owner (rep, coach), due date, status, completion date "
        "and where the completion came from (api, salesforce).",
        """SELECT id AS action_item_id, session_id, rep_id, owner, description, due_date,
                  opportunity_id, status, completed_on, completed_source, created_at, updated_at
           FROM public.action_item""",
    ),
    "events": (
        "The domain event log (the events feed): id, type, when, JSON payload.",
        "SELECT id AS event_id, type, occurred_at, payload FROM public.event",
    ),
}


def create_views(conn: Connection) -> None:
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    for name, (comment, definition) in VIEWS.items():
        conn.execute(text(f"CREATE OR REPLACE VIEW {SCHEMA}.{name} AS {definition}"))
        conn.execute(text(f"COMMENT ON VIEW {SCHEMA}.{name} IS '{comment}'"))


def drop_views(conn: Connection) -> None:
    conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def grant_statements(role: str) -> list[str]:
    """What a read-only BI login needs: the schema, its views, and views added later."""
    quoted = _quoted(role)
    return [
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {quoted}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT SELECT ON TABLES TO {quoted}",
    ]


def role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is not None


def grant_bi(conn: Connection, role: str, *, password: str | None = None) -> bool:
    """Grant `role` read access to `bi`; with a password, create it as a login first when it
    does not exist. Returns whether the role was created."""
    created = False
    if password is not None and not role_exists(conn, role):
        # Identifiers and passwords cannot be bound parameters in CREATE ROLE; quote them.
        literal = conn.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar_one()
        conn.execute(text(f"CREATE ROLE {_quoted(role)} LOGIN PASSWORD {literal}"))
        created = True
    for statement in grant_statements(role):
        conn.execute(text(statement))
    # The database itself must accept the login.
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    conn.execute(text(f"GRANT CONNECT ON DATABASE {_quoted(database)} TO {_quoted(role)}"))
    return created
