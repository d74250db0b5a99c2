"""A scorecard metric month by month, for charts: the scorecard itself, computed per month.

Each point is a calendar month cut to the requested range `[from, to)`, so a range starting
mid-month gives a first point covering only its part of that month (quota pro rata, as the
scorecard does for any cut month).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlmodel import Session

from salescoach_core.analytics.errors import InvalidTrendError
from salescoach_core.models import SfUser
from salescoach_core.periods import Period, add_months
from salescoach_core.scorecards.config import ScorecardConfig
from salescoach_core.scorecards.service import compute_scorecards

MAX_TREND_MONTHS = 36

MetricKind = Literal["count", "money", "rate", "days"]
TREND_METRICS: dict[str, MetricKind] = {
    "opportunity_starts": "count",
    "dollars_in_starts": "money",
    "won_count": "count",
    "won_amount": "money",
    "lost_count": "count",
    "win_rate": "rate",
    "avg_deal_size": "money",
    "sales_cycle_days": "days",
    "sales_velocity_per_day": "money",
    "quota": "money",
    "attainment": "rate",
    "pace": "rate",
    "calls": "count",
    "emails": "count",
    "meetings": "count",
    "other_tasks": "count",
    "process_to_requirement": "rate",
    "willingness_to_change": "rate",
}
"""Every numeric scorecard metric, with how it is served (segment and rank are not a series)."""


@dataclass(frozen=True)
class TrendPoint:
    period: Period
    value: Decimal | int | None


def trend_periods(whole: Period) -> list[Period]:
    """The months `whole` touches, each cut to it (a whole month is that month); at most
    MAX_TREND_MONTHS."""
    months = [month for month, _share in whole.months()]
    if len(months) > MAX_TREND_MONTHS:
        raise InvalidTrendError(
            f"The period touches {len(months)} months; a trend covers at most {MAX_TREND_MONTHS}."
        )
    return [Period.range(max(whole.start, month), min(whole.end, add_months(month, 1))) for month in months]


def metric_trend(
    session: Session,
    *,
    rep: SfUser,
    metric: str,
    period: Period,
    now: datetime,
    config: ScorecardConfig,
) -> list[TrendPoint]:
    if metric not in TREND_METRICS:
        raise InvalidTrendError(f"Unknown metric {metric!r}; use one of: {', '.join(TREND_METRICS)}.")
    points = []
    for month in trend_periods(period):
        card = compute_scorecards(session, reps=[rep], period=month, config=config, now=now)[0]
        value: Decimal | int | None = getattr(card.metrics, metric)
        points.append(TrendPoint(month, value))
    return points
