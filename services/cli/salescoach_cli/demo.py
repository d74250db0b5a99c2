"""Demo data that lives on salescoach's side (quotas, activity requirements), so the scorecards
of a freshly generated emulator org show attainment, pace, segments and process figures.

Seeded only when the tables are empty, so nothing a user set is ever overwritten.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, select

from salescoach_core.activity_requirements import WeeklyRequirement, replace_requirements
from salescoach_core.models import ActivityRequirement, Quota
from salescoach_core.periods import add_months
from salescoach_core.quotas import QuotaRow, upsert_quotas

DEMO_REQUIREMENT = WeeklyRequirement(
    calls_per_week=Decimal(10), emails_per_week=Decimal(15), meetings_per_week=Decimal(3)
)

# Each rep's wins per month over the synced history, and the months the history spans.
_MONTHLY_WON = text(
    """
    SELECT o.owner_id, date_trunc('month', o.close_date)::date AS month, coalesce(sum(o.amount), 0) AS won
    FROM sf_opportunity o JOIN sf_user u ON u.id = o.owner_id
    WHERE o.is_won AND NOT o.is_deleted AND u.is_active AND u.manager_id IS NOT NULL
    GROUP BY 1, 2
    """
)


def seed_demo_targets(session: Session, *, today: date) -> tuple[int, bool]:
    """Quotas for every rep for each month of history and the next three, and a default
    activity requirement. Returns (quotas written, requirement written)."""
    written = 0
    if session.scalar(select(func.count()).select_from(Quota)) == 0:
        rows = session.execute(_MONTHLY_WON).all()
        if rows:
            written = upsert_quotas(session, _quota_rows([tuple(row) for row in rows], today=today))
    wrote_requirement = False
    if session.scalar(select(func.count()).select_from(ActivityRequirement)) == 0:
        replace_requirements(session, default=DEMO_REQUIREMENT, teams={})
        wrote_requirement = True
    return written, wrote_requirement


def _quota_rows(rows: list[tuple[Any, ...]], *, today: date) -> list[QuotaRow]:
    """One quota for all reps: the median rep's mean monthly bookings, to the thousand. Reps then
    spread above and below it, across the segments, as a real team does."""
    per_rep: dict[str, list[Decimal]] = {}
    months: set[date] = set()
    for owner_id, month, won in rows:
        per_rep.setdefault(owner_id, []).append(Decimal(won))
        months.add(month)
    means = sorted(sum(values, Decimal(0)) / len(months) for values in per_rep.values())
    quota = (means[len(means) // 2] / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 1000
    first = min(months)
    horizon = add_months(today.replace(day=1), 3)
    all_months = []
    month = first
    while month <= horizon:
        all_months.append(month)
        month = add_months(month, 1)
    return [QuotaRow(rep_id, m, max(quota, Decimal(1000))) for rep_id in per_rep for m in all_months]
