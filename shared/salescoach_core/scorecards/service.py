"""Scorecards from the synced tables: one set-based query per metric family for all reps at once,
so a team costs the same number of round trips as one rep."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session, col, select

from salescoach_core.models import DEFAULT_SCOPE, ActivityRequirement, Quota, SfUser, SyncState
from salescoach_core.periods import Period
from salescoach_core.reps import team_members
from salescoach_core.scorecards.commitments import commitments_for
from salescoach_core.scorecards.config import ScorecardConfig
from salescoach_core.scorecards.metrics import (
    Figures,
    Metrics,
    RepScorecard,
    Requirement,
    derive,
    segment_distribution,
    stack_rank,
)

SCORECARD_OBJECTS = ("Opportunity", "Task", "Event")

# Starts and closes are two aggregates, each over its own covering index (index-only scans);
# one scan with an OR of both conditions would have to visit the heap for every row.
_OPPORTUNITY_SQL = text(
    """
    WITH starts AS (
        SELECT owner_id, count(*) AS starts, coalesce(sum(amount), 0) AS dollars_in_starts
        FROM sf_opportunity
        WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted
          AND created_date >= :start_at AND created_date < :end_at
        GROUP BY owner_id
    ),
    closes AS (
        SELECT owner_id,
               count(*) FILTER (WHERE is_won) AS won,
               coalesce(sum(amount) FILTER (WHERE is_won), 0) AS won_amount,
               count(*) FILTER (WHERE NOT is_won) AS lost,
               count(*) FILTER (WHERE is_won AND created_date IS NOT NULL) AS won_with_cycle,
               coalesce(sum(close_date - (created_date AT TIME ZONE :zone)::date)
                        FILTER (WHERE is_won AND created_date IS NOT NULL), 0) AS cycle_days_total
        FROM sf_opportunity
        WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted AND is_closed
          AND close_date >= :start_day AND close_date < :end_day
        GROUP BY owner_id
    )
    SELECT coalesce(starts.owner_id, closes.owner_id) AS owner_id,
           coalesce(starts.starts, 0) AS starts,
           coalesce(starts.dollars_in_starts, 0) AS dollars_in_starts,
           coalesce(closes.won, 0) AS won,
           coalesce(closes.won_amount, 0) AS won_amount,
           coalesce(closes.lost, 0) AS lost,
           coalesce(closes.won_with_cycle, 0) AS won_with_cycle,
           coalesce(closes.cycle_days_total, 0) AS cycle_days_total
    FROM starts FULL JOIN closes ON closes.owner_id = starts.owner_id
    """
)

# A task counts on the date it was completed: CompletedDateTime in the org's zone when set,
# else ActivityDate. The two branches keep each side on its own covering index.
_TASK_SQL = text(
    """
    SELECT owner_id,
           count(*) FILTER (WHERE task_subtype = ANY(:call_subtypes) OR type = ANY(:call_types)) AS calls,
           count(*) FILTER (WHERE NOT (coalesce(task_subtype = ANY(:call_subtypes), false)
                                       OR coalesce(type = ANY(:call_types), false))
                            AND task_subtype = ANY(:email_subtypes)) AS emails,
           count(*) FILTER (WHERE NOT (coalesce(task_subtype = ANY(:call_subtypes), false)
                                       OR coalesce(type = ANY(:call_types), false)
                                       OR coalesce(task_subtype = ANY(:email_subtypes), false))) AS other
    FROM (SELECT owner_id, task_subtype, type
          FROM sf_task
          WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted AND is_closed
            AND completed_date_time >= :start_at AND completed_date_time < :end_at
          UNION ALL
          SELECT owner_id, task_subtype, type
          FROM sf_task
          WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted AND is_closed AND completed_date_time IS NULL
            AND activity_date >= :start_day AND activity_date < :end_day) completed
    GROUP BY owner_id
    """
)

_EVENT_SQL = text(
    """
    SELECT owner_id, count(*) AS meetings
    FROM sf_event
    WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted
      AND start_date_time >= :start_at AND start_date_time < :end_at
    GROUP BY owner_id
    """
)


def compute_scorecards(
    session: Session,
    *,
    reps: Sequence[SfUser],
    period: Period,
    config: ScorecardConfig,
    now: datetime,
) -> list[RepScorecard]:
    """One scorecard per rep, in the order given, without rank."""
    rep_ids = [rep.id for rep in reps]
    if not rep_ids:
        return []
    start_at, end_at = period.instants(config.zone)
    params = {
        "rep_ids": rep_ids,
        "start_at": start_at,
        "end_at": end_at,
        "start_day": period.start,
        "end_day": period.end,
        "zone": config.zone.key,
        "call_subtypes": list(config.call_subtypes),
        "call_types": list(config.call_types),
        "email_subtypes": list(config.email_subtypes),
    }
    figures: dict[str, dict[str, object]] = defaultdict(dict)
    for row in session.execute(_OPPORTUNITY_SQL, params).mappings():
        figures[row["owner_id"]].update(
            opportunity_starts=row["starts"],
            dollars_in_starts=Decimal(row["dollars_in_starts"]),
            won_count=row["won"],
            won_amount=Decimal(row["won_amount"]),
            lost_count=row["lost"],
            won_with_cycle=row["won_with_cycle"],
            cycle_days_total=int(row["cycle_days_total"]),
        )
    for row in session.execute(_TASK_SQL, params).mappings():
        figures[row["owner_id"]].update(calls=row["calls"], emails=row["emails"], other_tasks=row["other"])
    for row in session.execute(_EVENT_SQL, params).mappings():
        figures[row["owner_id"]]["meetings"] = row["meetings"]
    for rep_id, quota in quotas_for(session, rep_ids=rep_ids, period=period).items():
        figures[rep_id]["quota"] = quota
    today = now.astimezone(config.zone).date()
    for rep_id, kept in commitments_for(
        session,
        rep_ids=rep_ids,
        period_end=period.end,
        window_days=config.willingness_window_days,
        today=today,
    ).items():
        figures[rep_id].update(commitments_due=kept.due, commitments_kept=kept.kept)

    requirements = requirements_for(session, reps=reps)
    cards = []
    for rep in reps:
        rep_figures = Figures(**figures.get(rep.id, {}))  # type: ignore[arg-type]
        metrics = derive(
            rep_figures, period=period, now=now, config=config, requirement=requirements.get(rep.id)
        )
        cards.append(
            RepScorecard(
                rep_id=rep.id, name=rep.name, manager_id=rep.manager_id, figures=rep_figures, metrics=metrics
            )
        )
    return cards


def team_scorecards(
    session: Session,
    *,
    reps: Sequence[SfUser],
    period: Period,
    config: ScorecardConfig,
    now: datetime,
) -> list[RepScorecard]:
    """The team's scorecards in stack-rank order, each with its rank."""
    return stack_rank(compute_scorecards(session, reps=reps, period=period, config=config, now=now))


def quotas_for(session: Session, *, rep_ids: list[str], period: Period) -> dict[str, Decimal]:
    """Each rep's quota for the period: the monthly quotas it covers (a cut month pro rata)."""
    shares = dict(period.months())
    rows = session.exec(
        select(Quota).where(col(Quota.rep_id).in_(rep_ids), col(Quota.month).in_(list(shares)))
    ).all()
    totals: dict[str, Decimal] = {}
    for quota in rows:
        totals[quota.rep_id] = totals.get(quota.rep_id, Decimal(0)) + quota.amount * shares[quota.month]
    return totals


def requirements_for(session: Session, *, reps: Sequence[SfUser]) -> dict[str, Requirement]:
    """The requirement for each rep: their manager's team's, else the default, else none."""
    scopes = {DEFAULT_SCOPE} | {rep.manager_id for rep in reps if rep.manager_id}
    rows = {
        row.scope: Requirement(row.calls_per_week, row.emails_per_week, row.meetings_per_week)
        for row in session.exec(select(ActivityRequirement).where(col(ActivityRequirement.scope).in_(scopes)))
    }
    default = rows.get(DEFAULT_SCOPE)
    result = {}
    for rep in reps:
        requirement = rows.get(rep.manager_id or "", default)
        if requirement is not None:
            result[rep.id] = requirement
    return result


def data_as_of(session: Session) -> datetime | None:
    """When the data behind scorecards was last complete: the oldest of the latest successful
    syncs of the objects they read. None until each has synced once."""
    rows = session.exec(select(SyncState).where(col(SyncState.object_name).in_(SCORECARD_OBJECTS))).all()
    finished = [row.last_success_at for row in rows if row.last_success_at is not None]
    if len(finished) < len(SCORECARD_OBJECTS):
        return None
    return min(finished)


@dataclass(frozen=True)
class TeamReport:
    cards: list[RepScorecard]
    totals: Metrics
    distribution: dict[str, int]


def rep_scorecard(
    session: Session, *, rep: SfUser, period: Period, config: ScorecardConfig, now: datetime
) -> RepScorecard:
    """The rep's scorecard, ranked within their manager's team (no rank without a team)."""
    if rep.manager_id is None:
        return compute_scorecards(session, reps=[rep], period=period, config=config, now=now)[0]
    team = team_members(session, manager_id=rep.manager_id, whole_org=False)
    if rep.id not in {member.id for member in team}:
        team.append(rep)
    cards = team_scorecards(session, reps=team, period=period, config=config, now=now)
    return next(card for card in cards if card.rep_id == rep.id)


def team_report(
    session: Session,
    *,
    manager_id: str,
    whole_org: bool,
    period: Period,
    config: ScorecardConfig,
    now: datetime,
) -> TeamReport:
    """Every active rep of the team (or org) in stack-rank order, the totals, the segment counts.

    Totals treat the team as one rep: counts and amounts are summed and rates computed from the
    sums. Requirements are per rep, so the totals carry no process_to_requirement.
    """
    members = team_members(session, manager_id=manager_id, whole_org=whole_org)
    cards = team_scorecards(session, reps=members, period=period, config=config, now=now)
    summed = sum((card.figures for card in cards), Figures())
    totals = derive(summed, period=period, now=now, config=config, requirement=None)
    return TeamReport(cards=cards, totals=totals, distribution=segment_distribution(cards))
