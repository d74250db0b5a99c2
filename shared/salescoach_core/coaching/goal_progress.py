"""How activity and outcome goals are measured (docs/domain.md, "Coaching goals"): the baseline
and progress from the scorecard or stage conversion, the refresh after a sync, and whether the
target was met when the period ends. Status changes are `goals`' business.

Baseline = the same metric over the period of the same kind just before the goal's (the previous
month for a month goal), as the scorecard computes it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from sqlmodel import Session, col, select

from salescoach_core.analytics.conversion import stage_conversion
from salescoach_core.analytics.stages import stage_catalog
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.models import CoachingGoal, SfUser
from salescoach_core.periods import Period, month_of
from salescoach_core.scorecards.metrics import RepScorecard
from salescoach_core.scorecards.service import compute_scorecards

STAGE_CONVERSION = "stage_conversion"
LOWER_IS_BETTER = frozenset({"sales_cycle_days"})
PLACES = Decimal("0.0001")


def goal_period(goal: CoachingGoal) -> Period:
    """The goal's period back from its stored bounds and label."""
    if goal.period_label.count("..") == 1:
        return Period.range(goal.period_start, goal.period_end)
    return Period.parse(goal.period_label)


def previous_period(period: Period) -> Period:
    """The period of the same kind just before: previous month, quarter, or equal-length range."""
    before = period.start - timedelta(days=1)
    if period.kind == "month":
        return month_of(before)
    if period.kind == "quarter":
        return Period.quarter(before.year, (before.month - 1) // 3 + 1)
    return Period.range(period.start - timedelta(days=period.days), period.start)


def metric_value(
    card: RepScorecard,
    *,
    metric: str,
    cadence: str | None,
    period: Period,
    now: datetime,
    config: CoachingConfig,
) -> Decimal | None:
    """The goal metric from a scorecard: per week over the elapsed part of the period when the
    cadence is `per_week`, else the period's figure so far."""
    raw = getattr(card.metrics, metric)
    if raw is None:
        return None
    value = Decimal(raw)
    if cadence == "per_week":
        elapsed_days = Decimal(period.days) * period.elapsed_fraction(now, config.scorecard.zone)
        if elapsed_days == 0:
            return None
        value = value * 7 / elapsed_days
    # Stored with 4 decimal places: round here so what is served equals what is stored.
    return value.quantize(PLACES, rounding=ROUND_HALF_EVEN)


def stage_conversion_value(
    session: Session, *, rep_id: str, stage: str, period: Period, config: CoachingConfig
) -> Decimal | None:
    """The rep's conversion share at `stage` over `period`: converted / left among opportunities
    that first entered the stage in the period, as analytics computes it (docs/metrics.md, "Stage
    conversion"); None when none left the stage."""
    report = stage_conversion(
        session,
        rep_id=rep_id,
        team_ids=None,
        period=period,
        stages=stage_catalog(session),
        config=config.analytics,
    )
    value = next((item.rep.conversion for item in report.stages if item.stage == stage), None)
    return value.quantize(PLACES, rounding=ROUND_HALF_EVEN) if value is not None else None


def measure_new_goal(
    session: Session, *, goal: CoachingGoal, rep: SfUser, now: datetime, config: CoachingConfig
) -> None:
    """Set a new measured goal's baseline (the previous period) and progress so far; skill goals
    have neither."""
    if goal.metric is None:
        return
    period = goal_period(goal)
    before = previous_period(period)
    if goal.metric == STAGE_CONVERSION:
        assert goal.stage is not None
        goal.baseline = stage_conversion_value(
            session, rep_id=rep.id, stage=goal.stage, period=before, config=config
        )
        goal.progress = stage_conversion_value(
            session, rep_id=rep.id, stage=goal.stage, period=period, config=config
        )
    else:
        card = compute_scorecards(session, reps=[rep], period=before, config=config.scorecard, now=now)[0]
        goal.baseline = metric_value(
            card, metric=goal.metric, cadence=goal.cadence, period=before, now=now, config=config
        )
        card = compute_scorecards(session, reps=[rep], period=period, config=config.scorecard, now=now)[0]
        goal.progress = metric_value(
            card, metric=goal.metric, cadence=goal.cadence, period=period, now=now, config=config
        )
    goal.progress_as_of = now


def _measured_goals(
    session: Session, *, due_by: datetime | None, config: CoachingConfig
) -> list[CoachingGoal]:
    query = select(CoachingGoal).where(
        col(CoachingGoal.status) == "active", col(CoachingGoal.kind).in_(("activity", "outcome"))
    )
    if due_by is not None:
        query = query.where(col(CoachingGoal.period_end) <= due_by.astimezone(config.scorecard.zone).date())
    return list(session.exec(query.with_for_update(skip_locked=True)))


def _refresh(session: Session, goals: list[CoachingGoal], *, now: datetime, config: CoachingConfig) -> None:
    """Recompute progress: one scorecard computation per distinct period for all its reps."""
    by_period: dict[tuple[str, Any, Any], list[CoachingGoal]] = defaultdict(list)
    for goal in goals:
        by_period[(goal.period_label, goal.period_start, goal.period_end)].append(goal)
    for group in by_period.values():
        period = goal_period(group[0])
        rep_ids = sorted({g.rep_id for g in group})
        users = session.exec(select(SfUser).where(col(SfUser.id).in_(rep_ids))).all()
        cards = {
            card.rep_id: card
            for card in compute_scorecards(
                session, reps=users, period=period, config=config.scorecard, now=now
            )
        }
        for goal in group:
            card = cards.get(goal.rep_id)
            assert goal.metric is not None
            if goal.metric == STAGE_CONVERSION:
                assert goal.stage is not None
                goal.progress = stage_conversion_value(
                    session, rep_id=goal.rep_id, stage=goal.stage, period=period, config=config
                )
                goal.progress_as_of = now
                session.add(goal)
                continue
            goal.progress = (
                metric_value(
                    card, metric=goal.metric, cadence=goal.cadence, period=period, now=now, config=config
                )
                if card is not None
                else None
            )
            goal.progress_as_of = now
            session.add(goal)
    session.flush()


def refresh_progress(session: Session, *, now: datetime, config: CoachingConfig) -> int:
    """Recompute the progress of every active activity and outcome goal (after each sync)."""
    goals = _measured_goals(session, due_by=None, config=config)
    _refresh(session, goals, now=now, config=config)
    return len(goals)


def due_goals_measured(session: Session, *, now: datetime, config: CoachingConfig) -> list[CoachingGoal]:
    """The active activity and outcome goals whose period has ended, locked (SKIP LOCKED, so
    several workers share them) and with their progress over the whole period."""
    goals = _measured_goals(session, due_by=now, config=config)
    _refresh(session, goals, now=now, config=config)
    return goals


def worse_than_baseline(*, metric: str | None, target: Decimal | None, baseline: Decimal | None) -> bool:
    """The target asks for less than the baseline already shows; holding the level is not."""
    if metric is None or target is None or baseline is None:
        return False
    if metric in LOWER_IS_BETTER:
        return target > baseline
    return target < baseline


def target_met(goal: CoachingGoal) -> bool:
    if goal.progress is None or goal.target is None:
        return False
    if goal.metric in LOWER_IS_BETTER:
        return goal.progress <= goal.target
    return goal.progress >= goal.target


def period_outcome(goal: CoachingGoal) -> tuple[Literal["achieved", "missed"], str]:
    """How a measured goal closes at period end, and the reason recorded in its history."""
    outcome: Literal["achieved", "missed"] = "achieved" if target_met(goal) else "missed"
    progress = f"{goal.progress.normalize():f}" if goal.progress is not None else "no data"
    target = f"{goal.target.normalize():f}" if goal.target is not None else "?"
    measured = f"{goal.metric} at {goal.stage}" if goal.stage else goal.metric
    return outcome, f"period {goal.period_label} ended: {measured} {progress} against target {target}"
