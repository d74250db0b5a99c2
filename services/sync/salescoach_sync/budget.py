"""The daily API budget: the calls the worker makes, per UTC day, in `sync_api_usage`, and the
pause between passes stretched so the day's calls stay inside SALESCOACH_SF_DAILY_CALL_BUDGET
(or SALESCOACH_SF_DAILY_CALL_BUDGET_SHARE of the org's DailyApiRequests). Salesforce counts a
rolling 24 hours; a UTC day is what an operator can read and plan with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from salescoach_core.database import session_scope
from salescoach_core.settings import Settings
from salescoach_sync.quota import QuotaGuard

DAY_SECONDS = 86_400.0

_RECORD_SQL = text(
    """
    INSERT INTO sync_api_usage (day, calls, passes, updated_at)
    VALUES (:day, :calls, :passes, :now)
    ON CONFLICT (day) DO UPDATE SET calls = sync_api_usage.calls + EXCLUDED.calls,
        passes = sync_api_usage.passes + EXCLUDED.passes, updated_at = EXCLUDED.updated_at
    RETURNING calls, passes
    """
)
_PACE_SQL = text(
    "UPDATE sync_api_usage SET budget = :budget, interval_seconds = :interval, projected_calls = :projected"
    " WHERE day = :day"
)


@dataclass(frozen=True)
class Pace:
    """The worker's pace after a pass: the pause until the next one and what it leads to."""

    interval_seconds: float
    budget: int | None
    calls_today: int
    projected_calls: int
    stretched: bool


def daily_budget(settings: Settings, quota: QuotaGuard) -> int | None:
    """The smaller of the absolute budget and the share of the org's limit (known from any
    response's Sforce-Limit-Info, or /limits); None when neither is set (or known)."""
    budgets = []
    if settings.sf_daily_call_budget is not None:
        budgets.append(settings.sf_daily_call_budget)
    if settings.sf_daily_call_budget_share is not None and quota.org is not None:
        budgets.append(max(1, int(quota.org.limit * settings.sf_daily_call_budget_share)))
    return min(budgets) if budgets else None


def record_calls(engine: Engine, calls: int, *, passes: int, now: datetime) -> tuple[int, int]:
    """Add a pass's (or a wake-up's) calls to the day's row; the day's calls and passes so far."""
    with session_scope(engine) as session:
        row = session.execute(
            _RECORD_SQL, {"day": now.astimezone(UTC).date(), "calls": calls, "passes": passes, "now": now}
        ).one()
    return int(row.calls), int(row.passes)


def seconds_left_today(now: datetime) -> float:
    utc = now.astimezone(UTC)
    midnight = datetime(utc.year, utc.month, utc.day, tzinfo=UTC) + timedelta(days=1)
    return (midnight - utc).total_seconds()


def pace(
    *, base_interval: float, budget: int | None, calls_today: int, passes_today: int, now: datetime
) -> Pace:
    """The pause before the next pass: `base_interval`, stretched when the rest of the day at
    that pace would spend more than what is left of the budget. A pass costs what today's
    passes cost on average (probes, reads, describes, write-back); with nothing left, the next
    pass waits for the new day."""
    per_pass = calls_today / passes_today if passes_today else 1.0
    left = seconds_left_today(now)
    interval = base_interval
    if budget is not None:
        remaining = budget - calls_today
        if remaining < per_pass:
            interval = max(base_interval, left)
        else:
            interval = max(base_interval, left * per_pass / remaining)
    projected = calls_today + int(per_pass * left / interval)
    return Pace(interval, budget, calls_today, projected, stretched=interval > base_interval)


def save_pace(engine: Engine, result: Pace, *, now: datetime) -> None:
    with session_scope(engine) as session:
        session.execute(
            _PACE_SQL,
            {
                "day": now.astimezone(UTC).date(),
                "budget": result.budget,
                "interval": result.interval_seconds,
                "projected": result.projected_calls,
            },
        )
