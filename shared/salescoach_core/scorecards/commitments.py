"""Commitment follow-through (docs/domain.md, willingness_to_change): session action items owned by
the rep, due in a trailing window, and how many were completed on or before their due date.

An item counts as due once its due date has passed or it has been completed: an open item due
tomorrow (or today) has not been missed yet, so it does not lower the figure. Canceled items and
items owned by the coach never count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text
from sqlmodel import Session

_COMMITMENTS_SQL = text(
    """
    SELECT rep_id,
           count(*) AS due,
           count(*) FILTER (WHERE status = 'completed' AND completed_on <= due_date) AS kept
    FROM action_item
    WHERE rep_id = ANY(:rep_ids) AND owner = 'rep' AND status <> 'canceled'
      AND due_date >= :start AND due_date < :end
      AND (due_date < :today OR status = 'completed')
    GROUP BY rep_id
    """
)


@dataclass(frozen=True)
class Commitments:
    due: int = 0
    kept: int = 0


def commitment_window(period_end: date, days: int) -> tuple[date, date]:
    """The trailing `[start, end)` window of due dates ending at the period's end."""
    return period_end - timedelta(days=days), period_end


def commitments_for(
    session: Session, *, rep_ids: Sequence[str], period_end: date, window_days: int, today: date
) -> dict[str, Commitments]:
    """Due and kept commitments per rep (reps with none are absent)."""
    if not rep_ids:
        return {}
    start, end = commitment_window(period_end, window_days)
    rows = session.execute(
        _COMMITMENTS_SQL, {"rep_ids": list(rep_ids), "start": start, "end": end, "today": today}
    ).mappings()
    return {row["rep_id"]: Commitments(due=row["due"], kept=row["kept"]) for row in rows}
