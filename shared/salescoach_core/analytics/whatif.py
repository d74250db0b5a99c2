"""What-if scenarios (docs/domain.md, "What-if scenarios"): dollarize a change in the rep's funnel.

The baseline is the trailing `whatif_baseline_months` full months before the current month
(in the org's zone), computed by the scorecard itself so both always agree. Projected monthly
bookings = monthly starts * avg_deal_size * win_rate.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from sqlmodel import Session

from salescoach_core.analytics.config import AnalyticsConfig
from salescoach_core.analytics.errors import InvalidScenarioError
from salescoach_core.models import SfUser
from salescoach_core.periods import Period, month_of
from salescoach_core.scorecards.config import ScorecardConfig
from salescoach_core.scorecards.service import compute_scorecards, quotas_for

MONTHS_PER_QUARTER = 3


@dataclass(frozen=True)
class Drivers:
    """The four levers of a rep's bookings, per month. None where the baseline has no data."""

    monthly_starts: Decimal | None
    avg_deal_size: Decimal | None
    win_rate: Decimal | None
    sales_cycle_days: Decimal | None

    @property
    def monthly_bookings(self) -> Decimal | None:
        if self.monthly_starts is None or self.avg_deal_size is None or self.win_rate is None:
            return None
        return self.monthly_starts * self.avg_deal_size * self.win_rate


LEVERS = tuple(field.name for field in fields(Drivers))

# The highest value each lever may take after a change (None: unbounded); all are at least 0.
_UPPER_BOUND: dict[str, Decimal | None] = {
    "monthly_starts": None,
    "avg_deal_size": None,
    "win_rate": Decimal(1),
    "sales_cycle_days": None,
}


ChangeKind = Literal["add", "set", "scale"]


@dataclass(frozen=True)
class Change:
    """`add` adds `value` to the lever (negative to lower it); `set` makes the lever `value`;
    `scale` multiplies it by `value` (1.2 is 20% more, 0.9 is 10% less)."""

    kind: ChangeKind
    value: Decimal


# The places each lever is shown with, in answers and in messages alike.
_LEVER_PLACES = {
    "monthly_starts": Decimal("0.01"),
    "avg_deal_size": Decimal("0.01"),
    "win_rate": Decimal("0.0001"),
    "sales_cycle_days": Decimal("0.01"),
}


@dataclass(frozen=True)
class WhatIf:
    baseline_period: Period
    baseline: Drivers
    projected: Drivers
    baseline_monthly_bookings: Decimal | None
    projected_monthly_bookings: Decimal | None
    monthly_difference: Decimal | None
    quarterly_difference: Decimal | None
    quota_period: Period
    monthly_quota: Decimal | None
    baseline_attainment: Decimal | None
    projected_attainment: Decimal | None
    lag_days: Decimal | None


def baseline_drivers(
    session: Session,
    *,
    rep: SfUser,
    now: datetime,
    config: AnalyticsConfig,
    scorecard_config: ScorecardConfig,
) -> tuple[Period, Drivers]:
    months = config.whatif_baseline_months
    period = month_of(now.astimezone(config.zone).date()).previous_months(months)
    card = compute_scorecards(session, reps=[rep], period=period, config=scorecard_config, now=now)[0]
    metrics = card.metrics
    return period, Drivers(
        monthly_starts=Decimal(metrics.opportunity_starts) / months,
        avg_deal_size=metrics.avg_deal_size,
        win_rate=metrics.win_rate,
        sales_cycle_days=metrics.sales_cycle_days,
    )


def project(baseline: Drivers, changes: dict[str, Change]) -> Drivers:
    """Apply the changes; refuse, naming each field, any that leave a lever out of range.

    Adding to a lever the baseline has no value for starts from 0 (a win rate of +0.2 for a rep
    with nothing decided means 0.2); scaling nothing stays nothing.
    """
    projected = baseline
    errors = []
    for lever, change in changes.items():
        current = getattr(baseline, lever)
        value: Decimal | None
        if change.kind == "add":
            value = (current or Decimal(0)) + change.value
        elif change.kind == "set":
            value = change.value
        else:
            value = current * change.value if current is not None else None
        upper = _UPPER_BOUND[lever]
        if value is not None and (value < 0 or (upper is not None and value > upper)):
            bounds = f"between 0 and {upper}" if upper is not None else "at least 0"
            shown = value.quantize(_LEVER_PLACES[lever], rounding=ROUND_HALF_EVEN)
            errors.append(
                {
                    "loc": ["body", "changes", lever, "value"],
                    "msg": f"{lever} would become {shown:f}; it must be {bounds}.",
                    "type": "value_out_of_range",
                }
            )
            continue
        projected = replace(projected, **{lever: value})
    if errors:
        where = ", ".join(".".join(str(part) for part in error["loc"]) for error in errors)
        raise InvalidScenarioError(f"The scenario projects impossible values at: {where}.", errors=errors)
    return projected


def what_if(
    session: Session,
    *,
    rep: SfUser,
    changes: dict[str, Change],
    now: datetime,
    config: AnalyticsConfig,
    scorecard_config: ScorecardConfig,
) -> WhatIf:
    """Baseline, projection and their difference; attainment against this month's quota."""
    period, baseline = baseline_drivers(
        session, rep=rep, now=now, config=config, scorecard_config=scorecard_config
    )
    projected = project(baseline, changes)
    before, after = baseline.monthly_bookings, projected.monthly_bookings
    monthly_difference = after - before if before is not None and after is not None else None
    quota_period = month_of(now.astimezone(config.zone).date())
    quota = quotas_for(session, rep_ids=[rep.id], period=quota_period).get(rep.id)
    return WhatIf(
        baseline_period=period,
        baseline=baseline,
        projected=projected,
        baseline_monthly_bookings=before,
        projected_monthly_bookings=after,
        monthly_difference=monthly_difference,
        quarterly_difference=(
            monthly_difference * MONTHS_PER_QUARTER if monthly_difference is not None else None
        ),
        quota_period=quota_period,
        monthly_quota=quota,
        baseline_attainment=before / quota if before is not None and quota else None,
        projected_attainment=after / quota if after is not None and quota else None,
        lag_days=projected.sales_cycle_days,
    )
