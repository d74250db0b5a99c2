"""Skill or will (docs/domain.md, "Recommended mode and diagnosis").

- `will`: willingness_to_change (commitments kept / commitments due, trailing window) is below
  the threshold (default 0.8): the rep does not keep agreed commitments. Judged whatever the day:
  missed commitments are facts already.
- `too_early`: otherwise, while the period runs and fewer than the minimum of working days
  (default 5) have passed: results are not judged yet.
- `skill`: commitments kept, but results short of goal: pace below the point where Core begins
  (the second segment threshold, default 0.90).
- `no_commitments_due`: results short of goal, but no commitment was due in the window, so
  whether it is skill or will cannot be told: agree commitments first.
- `on_track`: results at or above Core, or not judged for want of a quota.

Consequence coaching is recommended only for `will`, and only after the configured number
(default 3) of consecutive held developmental sessions with missed commitments; otherwise
developmental. A session has missed commitments when one of its rep-owned, non-canceled action
items is past its due date without having been completed on or before it. Sessions whose items
are not yet due are skipped when counting; a session whose due items were all kept, or a
consequence session, ends the streak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.models import SfUser
from salescoach_core.periods import Period
from salescoach_core.scorecards.commitments import commitment_window
from salescoach_core.scorecards.service import rep_scorecard

Verdict = Literal["on_track", "skill", "will", "no_commitments_due", "too_early"]
Mode = Literal["developmental", "consequence"]

_SESSIONS_SQL = text(
    """
    SELECT s.id, s.mode,
           count(a.id) FILTER (WHERE a.due_date < :today OR a.status = 'completed') AS due,
           count(a.id) FILTER (WHERE a.due_date < :today
                               AND NOT (a.status = 'completed' AND a.completed_on <= a.due_date)) AS missed
    FROM coaching_session s
    LEFT JOIN action_item a
           ON a.session_id = s.id AND a.owner = 'rep' AND a.status <> 'canceled' AND a.due_date IS NOT NULL
    WHERE s.rep_id = :rep_id AND s.status = 'held'
    GROUP BY s.id, s.mode, s.scheduled_at
    ORDER BY s.scheduled_at DESC, s.id DESC
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class Diagnosis:
    rep_id: str
    period: Period
    verdict: Verdict
    recommended_mode: Mode
    reason: str
    pace: Decimal | None
    attainment: Decimal | None
    segment: str | None
    core_threshold: Decimal
    willingness_to_change: Decimal | None
    willingness_threshold: Decimal
    commitments_due: int
    commitments_kept: int
    window_from: date
    window_to: date
    missed_session_streak: int
    consequence_after: int
    elapsed_working_days: int
    min_elapsed_working_days: int


def missed_session_streak(session: Session, *, rep_id: str, today: date, limit: int) -> int:
    """Consecutive held developmental sessions with missed commitments, most recent first."""
    streak = 0
    for row in session.execute(_SESSIONS_SQL, {"rep_id": rep_id, "today": today, "limit": 200}).mappings():
        if row["mode"] != "developmental":
            break
        if row["missed"]:
            streak += 1
            if streak >= limit:
                break
        elif row["due"]:
            break
    return streak


def diagnose(
    session: Session, *, rep: SfUser, period: Period, now: datetime, config: CoachingConfig
) -> Diagnosis:
    card = rep_scorecard(session, rep=rep, period=period, config=config.scorecard, now=now)
    metrics = card.metrics
    core = config.scorecard.segment_thresholds[1]
    willingness = metrics.willingness_to_change
    today = now.astimezone(config.scorecard.zone).date()
    streak = missed_session_streak(session, rep_id=rep.id, today=today, limit=config.consequence_after)
    figures = card.figures
    kept = (
        f"kept {figures.commitments_kept} of {figures.commitments_due} commitments due"
        if figures.commitments_due
        else "no commitments due"
    )
    verdict: Verdict
    if willingness is not None and willingness < config.willingness_threshold:
        verdict = "will"
        reason = f"{kept} (willingness {willingness:.2f} < {config.willingness_threshold})"
    elif config.scorecard.too_early(period, now):
        verdict = "too_early"
        elapsed = period.elapsed_working_days(now, config.scorecard.zone)
        reason = (
            f"{kept}; {elapsed} working day{'' if elapsed == 1 else 's'} of {period.label} "
            f"{'has' if elapsed == 1 else 'have'} passed, results are judged from "
            f"{config.scorecard.min_elapsed_working_days}"
        )
    elif metrics.pace is not None and metrics.pace < core:
        # Nothing due says nothing about follow-through: not counted as kept.
        verdict = "skill" if figures.commitments_due else "no_commitments_due"
        reason = f"{kept}, and pace {metrics.pace:.2f} is below Core ({core})"
    else:
        verdict = "on_track"
        reason = (
            f"{kept}; results at or above Core"
            if metrics.pace is not None
            else f"{kept}; no quota, so results are not judged"
        )
    mode: Mode = (
        "consequence" if verdict == "will" and streak >= config.consequence_after else "developmental"
    )
    window_from, window_to = commitment_window(period.end, config.scorecard.willingness_window_days)
    return Diagnosis(
        rep_id=rep.id,
        period=period,
        verdict=verdict,
        recommended_mode=mode,
        reason=reason,
        pace=metrics.pace,
        attainment=metrics.attainment,
        segment=metrics.segment,
        core_threshold=core,
        willingness_to_change=willingness,
        willingness_threshold=config.willingness_threshold,
        commitments_due=card.figures.commitments_due,
        commitments_kept=card.figures.commitments_kept,
        window_from=window_from,
        window_to=window_to,
        missed_session_streak=streak,
        consequence_after=config.consequence_after,
        elapsed_working_days=period.elapsed_working_days(now, config.scorecard.zone),
        min_elapsed_working_days=config.scorecard.min_elapsed_working_days,
    )
