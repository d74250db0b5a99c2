"""Pipeline health as of a date (docs/domain.md, "Efficiencies"): open, stale, past due, coverage.

The pipeline is the rep's opportunities that are open now (IsClosed false) and were created by
the end of the as-of day D, with their current Amount and CloseDate: D is the day staleness and
past due are judged from, not a reconstruction of the past (a won deal dated after D is won,
and counts against quota in coverage, never also as open).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.analytics.config import AnalyticsConfig
from salescoach_core.periods import Period, month_of
from salescoach_core.scorecards.service import quotas_for

ZERO = Decimal(0)

# The last stage change is the latest history row whose stage differs from the row before it
# (the first row is the entry into the first stage); CreatedDate when there is no history.
# A Task counts on the day it was completed (CompletedDateTime, else ActivityDate) or, while
# open, on the day it was created: logging a task is work on the deal, a due date is not.
_PIPELINE_SQL = text(
    """
    WITH open_opps AS (
        SELECT id, owner_id, amount, close_date, created_date
        FROM sf_opportunity
        WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted AND NOT is_closed
          AND created_date < :as_of_end
    ),
    health AS (
        SELECT open_opps.*,
               (coalesce(stage_change.changed_at, open_opps.created_date) AT TIME ZONE :zone)::date
                   AS last_change_day,
               activity.last_day AS last_activity_day
        FROM open_opps
        LEFT JOIN LATERAL (
            SELECT max(created_date) AS changed_at
            FROM (SELECT h.created_date, h.stage_name,
                         lag(h.stage_name) OVER (ORDER BY h.created_date, h.id) AS previous_stage
                  FROM sf_opportunity_history h
                  WHERE h.opportunity_id = open_opps.id AND NOT h.is_deleted
                    AND h.stage_name IS NOT NULL AND h.created_date < :as_of_end) rows
            WHERE previous_stage IS DISTINCT FROM stage_name
        ) stage_change ON true
        LEFT JOIN LATERAL (
            SELECT max(day) AS last_day
            FROM (SELECT CASE WHEN t.is_closed
                              THEN coalesce((t.completed_date_time AT TIME ZONE :zone)::date, t.activity_date)
                              ELSE (t.created_date AT TIME ZONE :zone)::date END AS day
                  FROM sf_task t
                  WHERE t.what_id = open_opps.id AND NOT t.is_deleted
                  UNION ALL
                  SELECT (e.start_date_time AT TIME ZONE :zone)::date
                  FROM sf_event e
                  WHERE e.what_id = open_opps.id AND NOT e.is_deleted) days
            WHERE day <= :as_of
        ) activity ON true
    )
    SELECT count(*) AS open_count,
           coalesce(sum(amount), 0) AS open_amount,
           count(*) FILTER (WHERE stale) AS stale_count,
           coalesce(sum(amount) FILTER (WHERE stale), 0) AS stale_amount,
           count(*) FILTER (WHERE close_date < :as_of) AS past_due_count,
           coalesce(sum(amount) FILTER (WHERE close_date < :as_of), 0) AS past_due_amount,
           coalesce(sum(amount) FILTER (WHERE close_date >= :next_start AND close_date < :next_end), 0)
               AS next_period_open_amount
    FROM (SELECT health.*,
                 (last_change_day IS NULL OR last_change_day <= :stale_change_day)
                 AND (last_activity_day IS NULL OR last_activity_day <= :stale_activity_day) AS stale
          FROM health) judged
    """
)

_WON_SQL = text(
    """
    SELECT coalesce(sum(amount), 0)
    FROM sf_opportunity
    WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted AND is_won
      AND close_date >= :next_start AND close_date < :next_end
    """
)


@dataclass(frozen=True)
class Tally:
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Coverage:
    period: Period
    open_amount: Decimal
    quota: Decimal | None
    won_amount: Decimal
    quota_remaining: Decimal | None
    ratio: Decimal | None


@dataclass(frozen=True)
class PipelineHealth:
    as_of: date
    open: Tally
    stale: Tally
    past_due: Tally
    coverage: Coverage


def pipeline_health(session: Session, *, rep_id: str, as_of: date, config: AnalyticsConfig) -> PipelineHealth:
    """Stale: the last stage change was `stale_days` or more days before `as_of` and the last
    activity on the opportunity `stale_activity_days` or more before it (or never).
    Coverage is over the next calendar month after the one `as_of` falls in."""
    next_start = month_of(as_of).end
    next_period = Period.month(next_start.year, next_start.month)
    params = {
        "rep_ids": [rep_id],
        "as_of": as_of,
        "as_of_end": datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=config.zone),
        "zone": config.zone.key,
        "stale_change_day": as_of - timedelta(days=config.stale_days),
        "stale_activity_day": as_of - timedelta(days=config.stale_activity_days),
        "next_start": next_period.start,
        "next_end": next_period.end,
    }
    row = session.execute(_PIPELINE_SQL, params).mappings().one()
    won = Decimal(session.execute(_WON_SQL, params).scalar_one())
    quota = quotas_for(session, rep_ids=[rep_id], period=next_period).get(rep_id)
    remaining = quota - won if quota is not None else None
    open_next = Decimal(row["next_period_open_amount"])
    # No ratio when nothing is left to cover: a met quota is not "infinite coverage".
    ratio = open_next / remaining if remaining is not None and remaining > 0 else None
    return PipelineHealth(
        as_of=as_of,
        open=Tally(row["open_count"], Decimal(row["open_amount"])),
        stale=Tally(row["stale_count"], Decimal(row["stale_amount"])),
        past_due=Tally(row["past_due_count"], Decimal(row["past_due_amount"])),
        coverage=Coverage(
            period=next_period,
            open_amount=open_next,
            quota=quota,
            won_amount=won,
            quota_remaining=remaining,
            ratio=ratio,
        ),
    )
